"""Labels for every conversation: work vs non-work, topic, intent."""

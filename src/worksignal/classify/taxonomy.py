"""The NBER "How People Use ChatGPT" taxonomy: 24 topic codes in 7 groups, and intent."""

from __future__ import annotations

TOPIC_GROUPS: dict[str, str] = {
    "edit_text": "writing",
    "personal_writing": "writing",
    "translation": "writing",
    "argument_summary": "writing",
    "fiction": "writing",
    "how_to": "practical_guidance",
    "tutoring": "practical_guidance",
    "ideation": "practical_guidance",
    "health": "practical_guidance",
    "programming": "technical_help",
    "math": "technical_help",
    "data_analysis": "technical_help",
    "create_image": "multimedia",
    "analyze_image": "multimedia",
    "other_media": "multimedia",
    "specific_info": "seeking_information",
    "products": "seeking_information",
    "cooking": "seeking_information",
    "chitchat": "self_expression",
    "relationships": "self_expression",
    "games_roleplay": "self_expression",
    "about_model": "other",
    "other": "other",
    "unclear": "other",
}
TOPICS = tuple(TOPIC_GROUPS)
GROUPS = tuple(dict.fromkeys(TOPIC_GROUPS.values()))
INTENTS = ("asking", "doing", "expressing")

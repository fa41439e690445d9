import json

import pytest

from tests.conftest import SHARED
from worksignal.classify.taxonomy import GROUPS, INTENTS, TOPIC_GROUPS


def test_taxonomy_matches_the_shared_labels():
    path = SHARED / "labels" / "topic_groups.json"
    if not path.is_file():
        pytest.skip("shared labels are not present")
    assert json.loads(path.read_text()) == TOPIC_GROUPS


def test_shape():
    assert len(TOPIC_GROUPS) == 24 and len(GROUPS) == 7 and INTENTS == ("asking", "doing", "expressing")

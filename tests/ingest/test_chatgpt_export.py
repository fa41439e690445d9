import json
from pathlib import Path

from tests.conftest import read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.chatgpt_export import ChatGPTExport


def test_real_export_walks_current_branch_only(formats: Path):
    path = formats / "chatgpt-export" / "pkuppens-2023-real-export-conversations.trimmed.json"
    assert detect(Source(path)).name == "chatgpt-export"
    records, quarantined = read_all(ChatGPTExport(), path, max_bytes=16 << 20)
    assert len(records) == 13 and not quarantined
    data = json.loads(path.read_text())
    for record, conversation in zip(records, data, strict=True):
        # The stored turns are exactly the chain from current_node up to the root.
        mapping, node, chain = conversation["mapping"], conversation["current_node"], []
        while node:
            message = mapping[node].get("message")
            if message and message["author"]["role"] == "user":
                parts = message["content"].get("parts") or []
                text = "\n".join(p for p in parts if isinstance(p, str))
                if text.strip():
                    chain.append(text)
            node = mapping[node].get("parent")
        stored = [m["content"] for m in record["messages"] if m["role"] == "user"]
        assert stored == chain[::-1]
        assert record["source_id"] == conversation["id"]


def test_newer_single_object_export_skips_reasoning_and_inactive_branch(formats: Path):
    path = formats / "chatgpt-export" / "polylogue-native-conversation-v1.json"
    records, quarantined = read_all(ChatGPTExport(), path)
    assert len(records) == 1 and not quarantined
    texts = [m["content"] for m in records[0]["messages"]]
    assert "Superseded answer." not in texts
    assert "Privacy-safe reasoning trace." not in texts
    assert records[0]["model"] == "gpt-5-6-pro"


def test_identity_from_user_json_beside_export(tmp_path: Path):
    (tmp_path / "user.json").write_text('{"id": "user-1", "email": "owner@acme.example"}')
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps([
        {"id": "x", "create_time": 1788300000.5, "current_node": "b", "mapping": {
            "a": {"id": "a", "parent": None, "children": ["b"], "message": {
                "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["hello there"]}}},
            "b": {"id": "b", "parent": "a", "children": [], "message": {
                "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["hi"]}}}}},
        {"id": "y", "mapping": "not a tree"},
        {"id": "z", "current_node": "q", "mapping": {"q": {"id": "q", "parent": None, "children": [], "message": None}}},
    ]))
    records, quarantined = read_all(ChatGPTExport(), export)
    assert [r["identity"] for r in records] == ["owner@acme.example"]
    assert [q.reason for q in quarantined] == ["missing_field", "no_messages"]


def test_broken_array_quarantines_the_unreadable_rest(tmp_path: Path):
    export = tmp_path / "conversations.json"
    good = {"id": "ok", "current_node": "a", "mapping": {"a": {"id": "a", "parent": None, "children": [], "message": {
        "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["fine"]}}}}}
    export.write_text("[" + json.dumps(good) + ', {"id": "cut", "mapping": {')
    records, quarantined = read_all(ChatGPTExport(), export)
    assert [r["source_id"] for r in records] == ["ok"]
    assert [q.reason for q in quarantined] == ["invalid_json"]

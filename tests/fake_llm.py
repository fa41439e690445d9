"""A small fake OpenAI chat-completions server on loopback, for the llm tier's tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    """Answers by keyword; 'flaky' transcripts get one malformed reply first."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.flaky_seen: set[str] = set()

    def reply(self, payload: dict) -> str:
        transcript = payload["messages"][-1]["content"]
        if "flaky" in transcript and transcript not in self.flaky_seen:
            self.flaky_seen.add(transcript)
            return "Sure! I think this is work."
        if "ignore previous instructions" in transcript.lower():
            return '{"work": 0, "topic": "about_model", "intent": "doing"}'
        if any(word in transcript.lower() for word in ("invoice", "sql", "deploy", "client")):
            return '```json\n{"work": 1, "topic": "programming", "intent": "doing"}\n```'
        return '{"work": 0, "topic": "chitchat", "intent": "expressing"}'


@contextmanager
def fake_llm_server() -> Iterator[tuple[str, FakeLLM]]:
    fake = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(payload)
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": fake.reply(payload)}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", fake
    finally:
        server.shutdown()
        server.server_close()

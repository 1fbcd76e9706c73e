"""A scripted OpenAI-compatible model provider for the benchmarks, in-process on loopback.

It answers `POST …/chat/completions` and `POST …/embeddings` after a fixed latency per
call (the time a real model would take), so a benchmark can compare the server's
wall-clock time with the time the model calls alone need. It counts the calls of each
kind and the most that were in flight at once.

Chat answers follow what the server sends (LightRAG's prompts, see
tests/fixtures/fake_provider.py for the same conventions):
  * an extraction prompt (system message with `---Real Data to be Processed---`) gets a
    plausible extraction in LightRAG's record format: the chunk's most frequent
    capitalised names as entities, typed by their words, each described by the first
    sentence naming it, and relations between names that share a sentence; a gleaning
    round (`missed or incorrectly formatted`) gets the next few names the first round
    left out, so the merge and embedding work is real;
  * a summary prompt (`Description List:`) gets one condensed description;
  * a keywords prompt (`User Query:` with `high_level_keywords`) gets LightRAG's JSON:
    the query's capitalised names as low-level keywords, its longer lower-case words as
    high-level ones;
  * anything else an echo.
Embeddings are deterministic vectors of the requested length (a hash of the text).
Standard library only.
"""

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TUPLE = "<|#|>"
COMPLETE = "<|COMPLETE|>"
FIRST_ROUND = 10
GLEANED = 4
MAX_RELATIONS = 8
# Capitalised words that start sentences rather than name things.
STARTERS = {
    "A", "An", "And", "Any", "As", "At", "But", "By", "Each", "For", "From", "If", "In",
    "It", "Its", "No", "Not", "Of", "On", "Or", "Such", "That", "The", "Then", "These",
    "This", "Those", "To", "Under", "Unless", "We", "When", "Where", "Whether", "Which",
    "With", "You", "Your", "All", "Some", "Every", "However", "Also", "Otherwise", "Moreover", "I", "II", "III", "IV", "V", "VI",
}
NAME = re.compile(r"\b[A-Z][A-Za-z\-]+(?:\s+(?:of\s+|the\s+|and\s+)?[A-Z][A-Za-z\-]+)*")
SENTENCE = re.compile(r"[^.!?;:]+[.!?;:]?")
TYPES = [
    (("Foundation", "Inc", "Corporation", "Netscape", "Mozilla", "Commons"), "organization"),
    (("Program", "Software", "Library", "Work", "Package", "Document", "Code", "Source"), "artifact"),
    (("License", "Licence", "Agreement", "Section", "Notice", "Version"), "content"),
    (("Contributor", "Licensor", "Licensee", "Author", "Holder", "Recipient", "User"), "person"),
]


def names_in(text):
    """Capitalised names of `text`, most frequent first (ties: first seen first)."""
    counts, first = Counter(), {}
    for i, match in enumerate(NAME.finditer(text)):
        words = match.group(0).rstrip("-").split()
        while words and words[0] in STARTERS:
            words = words[1:]
        name = " ".join(words)
        if len(name) < 3 or name.isupper() and len(name) < 4:
            continue
        counts[name] += 1
        first.setdefault(name, i)
    return sorted(counts, key=lambda n: (-counts[n], first[n]))


def entity_type(name):
    for words, kind in TYPES:
        if any(w in name for w in words):
            return kind
    return "concept"


def one_line(text, limit=240):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def records(text, names, related_to):
    """Entity records for `names` and relations among them (and to `related_to`)."""
    sentences = [" ".join(s.split()) for s in SENTENCE.findall(text) if s.strip()]
    lines = []
    for name in names:
        where = next((s for s in sentences if name in s), name)
        lines.append(f"entity{TUPLE}{name}{TUPLE}{entity_type(name)}{TUPLE}"
                     f"{name} is named in the text: {one_line(where)}")
    pairs = []
    pool = names + related_to
    for sentence in sentences:
        sentence = " ".join(sentence.split())
        present = [n for n in pool if n in sentence]
        for other in present[1:]:
            pair = (present[0], other)
            if present[0] != other and pair not in pairs and (pair[0] in names or other in names):
                pairs.append(pair)
                lines.append(f"relation{TUPLE}{present[0]}{TUPLE}{other}{TUPLE}"
                             f"licence terms, {entity_type(other)}{TUPLE}{one_line(sentence)}")
            if len(pairs) >= MAX_RELATIONS:
                break
        if len(pairs) >= MAX_RELATIONS:
            break
    return lines


def extraction(system, gleaning):
    text = system.split("Text:\n```\n", 1)[-1].rsplit("\n```", 1)[0]
    ranked = names_in(text)
    if gleaning:
        lines = records(text, ranked[FIRST_ROUND:FIRST_ROUND + GLEANED], ranked[:FIRST_ROUND])
    else:
        lines = records(text, ranked[:FIRST_ROUND], [])
    return "\n".join(lines + [COMPLETE])


def keywords(prompt):
    query = prompt.split("User Query:", 1)[-1].split("---Output---", 1)[0].strip()
    high = [w for w in re.findall(r"\b[a-z][a-z\-]{4,}\b", query)]
    return json.dumps({"high_level_keywords": high[:5], "low_level_keywords": names_in(query)[:5]})


def answer(messages):
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    last = messages[-1]["content"] if messages else ""
    if "---Real Data to be Processed---" in system:
        return extraction(system, "missed or incorrectly formatted" in last)
    if "User Query:" in last and "high_level_keywords" in last:
        return keywords(last)
    if "Description List:" in last:
        name = re.search(r"Name: (.*)", last).group(1).strip()
        count = last.count('{"Description"')
        return f"{name} is described by {count} passages of the licence texts, condensed here."
    return f"Scripted answer to: {one_line(last, 60)}"


def vector(text, dim):
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] / 255.0) - 0.5 for i in range(dim)]


class ScriptedProvider:
    """Starts on a random loopback port; `calls`, `texts` and `peak` by kind."""

    def __init__(self, chat_latency, embed_latency, dim):
        self.chat_latency = chat_latency
        self.embed_latency = embed_latency
        self.dim = dim
        self.lock = threading.Lock()
        self.reset()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body leave in two writes; with Nagle's algorithm the
            # body waits for the client's delayed ACK of the headers (40 ms on Linux),
            # which a benchmark would measure as the model's time.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                kind = "chat" if self.path.endswith("/chat/completions") else "embed"
                provider.enter(kind, len(body.get("input", [])))
                try:
                    time.sleep(provider.chat_latency if kind == "chat" else provider.embed_latency)
                    if kind == "chat":
                        reply = {"choices": [{"message": {"role": "assistant",
                                                          "content": answer(body["messages"])}}]}
                    else:
                        dim = body.get("dimensions", provider.dim)
                        reply = {"data": [{"index": i, "embedding": vector(t, dim)}
                                          for i, t in enumerate(body["input"])]}
                finally:
                    provider.leave(kind)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 drops connections the server opens at once, and
            # a dropped SYN costs a second: that would be measured, not the model.
            request_queue_size = 128
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            self.calls = {"chat": 0, "embed": 0}
            self.texts = {"chat": 0, "embed": 0}
            self.in_flight = {"chat": 0, "embed": 0}
            self.peak = {"chat": 0, "embed": 0}

    def enter(self, kind, texts):
        with self.lock:
            self.calls[kind] += 1
            self.texts[kind] += texts
            self.in_flight[kind] += 1
            self.peak[kind] = max(self.peak[kind], self.in_flight[kind])

    def leave(self, kind):
        with self.lock:
            self.in_flight[kind] -= 1

    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def server_env(self):
        """The settings that point a server's chat and embedding calls at this provider."""
        return {
            "LLM_BINDING": "openai", "LLM_BINDING_HOST": self.url(), "LLM_MODEL": "scripted",
            "LLM_BINDING_API_KEY": "bench", "EMBEDDING_BINDING": "openai",
            "EMBEDDING_BINDING_HOST": self.url(), "EMBEDDING_MODEL": "scripted-embedding",
            "EMBEDDING_BINDING_API_KEY": "bench", "EMBEDDING_DIM": str(self.dim),
        }

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

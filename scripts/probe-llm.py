#!/usr/bin/env python3
"""Asks a llama-server (or any OpenAI-compatible server) costbot's cost
questions with costbot's real tool definitions and tool_choice "required",
and reports per question: latency, the tool call, and whether its arguments
are valid against the tool's JSON Schema. A hand check of a model server,
not a test (tests/llm_real.rs is the test).

Usage: scripts/probe-llm.py BASE_URL TOOLS_JSON
  BASE_URL    e.g. http://127.0.0.1:18089/v1
  TOOLS_JSON  the output of `costbot tools --json`
Needs the `jsonschema` package.
"""
import json
import sys
import time
import urllib.request

import jsonschema

QUESTIONS = [
    "How much did we spend last month?",
    "What did we spend on EC2 in October 2026?",
    "Break down last month's cost by service.",
    "Compare this month with last month by service.",
    "Why did S3 go up last week?",
    "Will we stay within budget this month?",
    "Any anomalies in the last 14 days?",
    "Daily trend for RDS in the last 30 days",
    "Top 5 accounts by cost this month",
    "How can we reduce NAT gateway costs?",
]
SYSTEM = ("You answer questions about an AWS bill. Today is 2026-11-19. "
          "Always call a tool; dates are YYYY-MM-DD.")


def main():
    base, tools_path = sys.argv[1], sys.argv[2]
    tools = json.load(open(tools_path))
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    valid = 0
    latencies = []
    for q in QUESTIONS:
        body = {
            "model": "smollm2",
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
            "tools": tools,
            "tool_choice": "required",
            # A small model repeats its call until max_tokens when parallel calls are allowed.
            "parallel_tool_calls": False,
            "temperature": 0,
            "max_tokens": 256,
        }
        req = urllib.request.Request(base + "/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=300) as r:
            resp = json.load(r)
        dt = time.monotonic() - t0
        latencies.append(dt)
        msg = resp["choices"][0]["message"]
        calls = msg.get("tool_calls") or []
        verdicts = []
        for c in calls:
            f = c.get("function", {})
            name, args = f.get("name"), f.get("arguments")
            kind = type(args).__name__
            try:
                parsed = json.loads(args) if isinstance(args, str) else args
                jsonschema.validate(parsed, schemas[name], format_checker=jsonschema.FormatChecker())
                verdicts.append(("valid", name, kind, parsed, c.get("id")))
            except Exception as e:  # noqa: BLE001 - report any failure
                verdicts.append(("INVALID: " + str(e).splitlines()[0][:120], name, kind, args, c.get("id")))
        ok = bool(calls) and all(v[0] == "valid" for v in verdicts)
        valid += ok
        print(json.dumps({"question": q, "seconds": round(dt, 2), "finish_reason": resp["choices"][0].get("finish_reason"),
                          "usage": resp.get("usage"), "content": msg.get("content"), "calls": verdicts}))
    print(f"schema-valid tool calls: {valid}/{len(QUESTIONS)}; latency mean {sum(latencies)/len(latencies):.2f}s, "
          f"max {max(latencies):.2f}s")


if __name__ == "__main__":
    main()

//! The `costbot` binary as a user runs it: a real SQLite file in a temp data
//! directory, no AWS, no configuration.

use std::process::Command;

fn costbot(data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costbot"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", data_dir)
        .env("COSTBOT_DATA_DIR", data_dir)
        .current_dir(data_dir);
    c
}

#[test]
fn ask_works_with_no_configuration_and_continues_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = costbot(dir.path())
        .args([
            "ask",
            "How much did we spend last month?",
            "--as-of",
            "2026-11-19",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("AWS spend in 1–31 October 2026: $"), "{text}");
    assert!(text.contains("SAMPLE DATA"), "{text}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let id = stderr
        .split("(conversation ")
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches(')')
        .to_string();

    // A second process continues the same conversation from the SQLite file.
    let out = costbot(dir.path())
        .args([
            "ask",
            "and the month before?",
            "--conversation",
            &id,
            "--json",
            "--as-of",
            "2026-11-19",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["conversation_id"], id);
    assert_eq!(json["answer"]["basis"]["start"], "2026-09-01");
    assert_eq!(json["answer"]["basis"]["end_inclusive"], "2026-09-30");
    assert!(dir.path().join("costbot.db").exists());
}

#[test]
fn unanswerable_questions_exit_2_with_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let out = costbot(dir.path())
        .args(["ask", "what is the meaning of life"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("Try, for example"), "{stderr}");
}

#[test]
fn chat_reads_turns_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = costbot(dir.path())
        .args(["chat", "--as-of", "2026-11-19"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"top 3 services last month\nonly dev\nexit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Other ("), "{text}");
    assert!(
        text.contains("AWS (account dev) spend in 1–31 October 2026"),
        "{text}"
    );
}

#[test]
fn doctor_redacts_secrets_and_rejects_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = costbot(dir.path())
        .env(
            "COSTBOT_WEBHOOK_TOKENS",
            "ci:s3cr3t-value-that-must-not-print",
        )
        .env("COSTBOT_LLM_BASE_URL", "http://127.0.0.1:9/v1")
        .env("COSTBOT_LLM_MODEL", "small-model")
        .env("COSTBOT_LLM_API_KEY", "sk-llm-s3cr3t")
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("[redacted]"));
    assert!(text.contains("journal mode wal"), "{text}");
    assert!(text.contains("1 webhook token(s): ci"));
    assert!(
        text.contains("language model small-model at http://127.0.0.1:9 (openai dialect, key set)"),
        "{text}"
    );

    let out = costbot(dir.path())
        .env("COSTBOT_TIMEZONE", "Mars/Olympus")
        .arg("doctor")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("IANA time zone"));
}

#[test]
fn ask_with_the_language_model_down_is_answered_by_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = costbot(dir.path())
        .env(
            "COSTBOT_LLM_BASE_URL",
            format!("http://127.0.0.1:{port}/v1"),
        )
        .env("COSTBOT_LLM_MODEL", "small-model")
        .env("COSTBOT_LLM_API_KEY", "sk-llm-s3cr3t")
        .env("RUST_LOG", "debug")
        .args([
            "ask",
            "How much did we spend last month?",
            "--as-of",
            "2026-11-19",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("AWS spend in 1–31 October 2026: $"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The language model was unavailable (unreachable); this answer comes from the rules planner."),
        "{stdout}"
    );
    assert!(
        !stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"),
        "{stderr}"
    );
}

#[test]
fn tools_prints_the_definitions_a_model_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = costbot(dir.path())
        .args(["tools", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, costbot::agent::tools::definitions());
    let names: Vec<&str> = printed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, costbot::agent::tools::TOOL_NAMES);
}

#[test]
fn eval_against_qdrant_without_a_server_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("q.jsonl"),
        r#"{"question": "NAT gateway charges", "relevant": ["nat-gateway.md"]}"#,
    )
    .unwrap();
    let out = costbot(dir.path())
        .args([
            "eval",
            "retrieval",
            "--questions",
            "q.jsonl",
            "--store",
            "qdrant",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--store qdrant needs a Qdrant server: set QDRANT_URL"),
        "{err}"
    );
}

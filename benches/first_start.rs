//! First start with the embedding model present: how long the release
//! `costbot ask` takes in a fresh data directory, the peak memory of
//! indexing the guides from scratch, and what `serve` holds afterwards.
//!
//! `cargo bench --bench first_start` (needs the model: scripts/fetch-model.sh,
//! or COSTBOT_MODEL_DIR). Memory comes from the kernel: a child's peak from
//! wait4's ru_maxrss, a running process's from /proc/<pid>/status (VmHWM,
//! VmRSS). Under `cargo test --all-targets` it only says how to run it.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use costbot::config::RetrievalMode;
use costbot::retrieval::dense::{default_model_dir, missing_files, DenseIndex, Embedder};
use costbot::retrieval::{guides, GuideIndex, LexicalIndex};
use costbot::store::Store;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const QUESTION: &str = "How can I cut our NAT gateway costs?";

fn mb(kb: u64) -> String {
    format!("{:.0} MB", kb as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM).
fn status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits for the child; returns whether it succeeded and its peak RSS in kB.
fn wait_with_peak(child: Child) -> (bool, u64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 only writes to the two pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our own child, not yet waited for.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss as u64,
    )
}

fn costbot(data: &Path, model: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costbot"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", data)
        .env("NO_COLOR", "1")
        .env("COSTBOT_DATA_DIR", data)
        .env("COSTBOT_MODEL_DIR", model)
        .current_dir(data);
    c
}

/// A copy of the guides with every title changed, so no shipped vector
/// matches and everything is embedded.
fn unshipped_guides(dir: &Path) -> PathBuf {
    let out = dir.join("knowledge");
    std::fs::create_dir_all(&out).unwrap();
    for g in std::fs::read_dir("knowledge").unwrap() {
        let p = g.unwrap().path();
        if p.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(
                out.join(p.file_name().unwrap()),
                text.replacen("title = \"", "title = \"Edited: ", 1),
            )
            .unwrap();
        }
    }
    out
}

/// In a child process: embeds every guide chunk into a fresh store and prints
/// "<seconds> <VmHWM kB> <VmRSS kB after>".
fn child_index(model: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).await.unwrap();
        let embedder = std::sync::Arc::new(Embedder::load(model).unwrap());
        let index = GuideIndex::new(
            LexicalIndex::new(store.clone()),
            Some(std::sync::Arc::new(DenseIndex::new(
                store.clone(),
                embedder,
            ))),
            None,
            RetrievalMode::Hybrid,
        );
        let t = Instant::now();
        let s = index
            .sync(&guides::load(None).unwrap(), &|_, _| {})
            .await
            .unwrap();
        let took = t.elapsed();
        assert!(s.dense.unwrap().embedded > 0);
        costbot::app::release_free_memory();
        println!(
            "{} {} {}",
            took.as_secs_f64(),
            status_kb("self", "VmHWM"),
            status_kb("self", "VmRSS")
        );
        store.close().await;
    });
}

struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
}

impl Served {
    fn start(data: &Path, model: &Path, knowledge: Option<&Path>) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = costbot(data, model);
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("COSTBOT_WEBHOOK_TOKENS", format!("bench:{SECRET}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(k) = knowledge {
            cmd.env("COSTBOT_KNOWLEDGE_DIR", k);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(l);
            }
        });
        Served {
            child,
            lines,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn wait_for(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(text) => return,
                Ok(_) => {}
                Err(_) => panic!("`serve` did not log {text:?} within {limit:?}"),
            }
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

async fn inquire(client: &reqwest::Client, url: &str) -> bool {
    client
        .post(format!("{url}/v1/inquiries"))
        .bearer_auth(SECRET)
        .json(&serde_json::json!({ "text": QUESTION }))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Time from start to the first answered inquiry, then to dense readiness;
/// peak and settled RSS.
async fn serve_run(label: &str, model: &Path, unshipped: bool) {
    let data = tempfile::tempdir().unwrap();
    let knowledge = unshipped.then(|| unshipped_guides(data.path()));
    let client = reqwest::Client::new();
    let t = Instant::now();
    let s = Served::start(data.path(), model, knowledge.as_deref());
    while !inquire(&client, &s.url).await {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = t.elapsed();
    s.wait_for("dense guide search ready", Duration::from_secs(600));
    let ready = t.elapsed();
    for _ in 0..20 {
        assert!(inquire(&client, &s.url).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "serve, {label}: first answer after {}, dense ready after {}, peak RSS {}, RSS serving after 21 answers {}",
        secs(first),
        secs(ready),
        mb(status_kb(&s.pid(), "VmHWM")),
        mb(status_kb(&s.pid(), "VmRSS"))
    );
    s.stop();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = std::env::var("COSTBOT_MODEL_DIR")
        .map(PathBuf::from)
        .ok()
        .or_else(default_model_dir);
    if let Some(pos) = args.iter().position(|a| a == "--child-index") {
        child_index(Path::new(&args[pos + 1]));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("first_start: run `cargo bench --bench first_start` to measure (needs the model)");
        return;
    }
    let Some(model) = model.filter(|d| missing_files(d).is_empty()) else {
        println!("first_start: no embedding model; run scripts/fetch-model.sh");
        return;
    };
    println!("costbot first start ({} cores)", num_cpus());

    // `ask` in a fresh data directory, three times.
    for i in 1..=3 {
        let data = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let child = costbot(data.path(), &model)
            .args(["ask", QUESTION])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (ok, peak) = wait_with_peak(child);
        assert!(ok, "costbot ask failed");
        println!(
            "ask #{i}, fresh data dir: answered in {}, peak RSS {}",
            secs(t.elapsed()),
            mb(peak)
        );
    }

    // Embedding every chunk from scratch (no shipped vectors), in a child.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child-index", &model.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    println!(
        "index from scratch, every chunk embedded: {:.1} s, peak RSS {}, RSS after {}",
        f[0].parse::<f64>().unwrap(),
        mb(f[1].parse().unwrap()),
        mb(f[2].parse().unwrap())
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        serve_run("fresh data dir, shipped guides", &model, false).await;
        serve_run(
            "fresh data dir, guides without shipped vectors",
            &model,
            true,
        )
        .await;
    });
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

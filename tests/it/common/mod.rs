//! Test harness: copies a fixture project to a temporary folder and runs the real binary on it,
//! with a chained builder in the manner of `just`'s tests.
#![allow(dead_code)]

pub mod gate;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A mailing project in a temporary folder.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// The example project shipped in the repo, laid out as `bulletin init` lays it out.
    pub fn example() -> Project {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["templates", "lists", "updates", "campaigns", "attachments"] {
            copy_dir(&repo().join(folder), &dir.path().join(folder));
        }
        std::fs::copy(
            repo().join("config.example.toml"),
            dir.path().join("bulletin.toml"),
        )
        .unwrap();
        Project { dir }
    }

    /// The example project with a fixture's files laid over it.
    pub fn fixture(overlay: &Path) -> Project {
        let p = Project::example();
        copy_dir(overlay, p.path());
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    pub fn remove(&self, rel: &str) -> &Self {
        std::fs::remove_file(self.path().join(rel)).unwrap();
        self
    }

    /// Replaces text in a project file; the text must be there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) -> &Self {
        let s = self.read(rel);
        assert!(s.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, s.replacen(from, to, 1))
    }

    /// Points the project at a relay on this machine: the config's [smtp] and [rate] sections
    /// are replaced by these (`extra` lines go into [smtp], `rate` into [rate]).
    pub fn relay(&self, port: u16, extra: &str, rate: &str) -> &Self {
        let config = self.read("bulletin.toml");
        let head = &config[..config.find("[smtp]").expect("an [smtp] section")];
        // `extra` may set its own timeout.
        let timeout = if extra.contains("timeout_secs") {
            ""
        } else {
            "timeout_secs = 5\n"
        };
        self.write(
            "bulletin.toml",
            format!(
                "{head}[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n{timeout}retry_delay_secs = 0.05\n{extra}\n\n[rate]\n{rate}\n"
            ),
        )
    }

    /// Replaces the practitioners list with `n` generated contacts (a third French), all
    /// following landmines, so that the digest selects every one.
    pub fn big_list(&self, n: usize) -> &Self {
        let mut csv = String::from("email,name,language,interests\n");
        for i in 0..n {
            csv.push_str(&format!(
                "person{i}@example.org,Person {i},{},landmines\n",
                if i % 3 == 0 { "fr" } else { "en" }
            ));
        }
        self.write("lists/practitioners.csv", csv)
    }

    /// A campaign's recipients, as `audience --csv` prints them.
    pub fn recipients(&self, campaign: &str) -> Vec<std::collections::HashMap<String, String>> {
        csv_rows(
            &self
                .bulletin()
                .args(["audience", campaign, "--csv"])
                .ok()
                .stdout(),
        )
    }

    /// The project's suppression list, as `suppress list --csv` prints it.
    pub fn suppressed(&self) -> Vec<std::collections::HashMap<String, String>> {
        csv_rows(
            &self
                .bulletin()
                .args(["suppress", "list", "--csv"])
                .ok()
                .stdout(),
        )
    }

    /// Every recipient's state in the project's journal (a real SQLite file).
    pub fn journal_states(&self) -> std::collections::HashMap<String, String> {
        let conn = rusqlite::Connection::open(self.path().join("bulletin.sqlite")).unwrap();
        let mut st = conn.prepare("SELECT email, state FROM deliveries").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// `send CAMPAIGN --yes` started in the background, its output captured, for tests that
    /// act on the relay or the process while it sends.
    pub fn spawn_send(&self, campaign: &str) -> std::process::Child {
        command()
            .current_dir(self.path())
            .args(["send", campaign, "--yes"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn bulletin(&self) -> Run {
        let mut r = Run::new();
        r.cmd.current_dir(self.path());
        r
    }
}

/// A moment before every date the example campaigns plan or the tests schedule: what "now" is
/// for a test that schedules, so that no test depends on today's date.
pub const PLANNED: &str = "2026-11-30T10:00:00Z";

/// The secret the example project's unsubscribe tokens are signed with in tests.
pub const TOKEN_SECRET: &str = "test-token-secret-of-the-example-project-2026";

/// The real binary, with the environment every test starts from: the example project's SMTP
/// password and token secret, test values, never the developer's own.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bulletin"));
    cmd.env("BULLETIN_SMTP_PASSWORD", "test-relay-password")
        .env("BULLETIN_UNSUBSCRIBE_SECRET", TOKEN_SECRET);
    shift_clock(&mut cmd);
    cmd
}

/// Variable that runs every bulletin process of the suite with its system clock moved, so that
/// a test that passes only on today's date is found: `BULLETIN_TEST_CLOCK=+1800d` (libfaketime's
/// offset syntax). `.ci/run` runs the suite once more this way.
pub const CLOCK_VAR: &str = "BULLETIN_TEST_CLOCK";

/// Debian's libfaketime, preloaded into the binary itself (not through the `faketime` wrapper,
/// which would stand between the test and the process it signals). The monotonic clock is left
/// alone: only the calendar moves.
pub fn shift_clock(cmd: &mut Command) {
    let Ok(offset) = std::env::var(CLOCK_VAR) else {
        return;
    };
    // Debian puts it under the machine's multiarch folder (x86_64-linux-gnu, aarch64-linux-gnu).
    let lib = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{CLOCK_VAR} needs Debian's faketime (apt-get install faketime; tests/run installs it)")
        });
    cmd.env("LD_PRELOAD", lib)
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FAKETIME_NO_CACHE", "1");
}

/// Longer than any command of the tests takes on a loaded machine, by far.
pub const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

pub struct Run {
    pub cmd: Command,
}

impl Run {
    pub fn new() -> Run {
        Run { cmd: command() }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs the binary to its end. A run that outlives [`RUN_LIMIT`] is a hang: it is killed
    /// and the test fails with what it printed, rather than waiting for ever.
    pub fn run(mut self) -> Done {
        use std::io::Read;
        let mut child = self
            .cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run bulletin");
        // Read both pipes on threads, so that a full pipe never stalls the child.
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = so.read_to_end(&mut b);
            b
        });
        let err_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = se.read_to_end(&mut b);
            b
        });
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for bulletin") {
                break st;
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).to_string();
                panic!(
                    "bulletin ran for over {RUN_LIMIT:?}, a hang: killed. Its stderr:\n{stderr}"
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = Output {
            status,
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        };
        Done { out }
    }

    /// Runs and expects success.
    pub fn ok(self) -> Done {
        self.run().success()
    }

    /// Runs and expects failure.
    pub fn fails(self) -> Done {
        self.run().failure()
    }
}

pub struct Done {
    pub out: Output,
}

impl Done {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn success(self) -> Self {
        assert!(
            self.out.status.success(),
            "expected success, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn failure(self) -> Self {
        assert!(
            !self.out.status.success(),
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn code_is(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn stdout_has(self, s: &str) -> Self {
        assert!(
            self.stdout().contains(s),
            "stdout lacks {s:?}:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn stderr_has(self, s: &str) -> Self {
        assert!(
            self.stderr().contains(s),
            "stderr lacks {s:?}:\n{}",
            self.stderr()
        );
        self
    }
    pub fn stderr_lacks(self, s: &str) -> Self {
        assert!(
            !self.stderr().contains(s),
            "stderr has {s:?}:\n{}",
            self.stderr()
        );
        self
    }
}

/// Parses a CSV printed by `audience --csv` into rows of column name → value.
pub fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Every `.eml` of a preview folder, parsed back, by file name.
pub fn emls(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Debian's Chromium, headless, with a profile of its own (kept alive with the browser). The
/// test fails when it is missing: `.ci/run` installs it.
pub fn chromium() -> (headless_chrome::Browser, tempfile::TempDir) {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Debian's chromium is needed for this test (apt-get install chromium; .ci/run installs it)"
    );
    let profile = tempfile::tempdir().unwrap();
    // Without the networking flags, Chromium's background connections fail on a closed
    // network, many at a time.
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let browser = headless_chrome::Browser::new(headless_chrome::LaunchOptions {
        headless: true,
        sandbox: false,
        path: Some(chromium.to_path_buf()),
        user_data_dir: Some(profile.path().to_path_buf()),
        args,
        ..Default::default()
    })
    .expect("start chromium");
    (browser, profile)
}

/// Waits for a child, reading its peak resident memory (VmHWM, in KB) from /proc while it runs.
pub fn wait_with_peak_memory(mut child: std::process::Child) -> (Output, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let mut out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = std::io::Read::read_to_end(o, &mut b);
        }
        b
    });
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let stdout = reader.join().unwrap_or_default();
    (
        Output {
            status,
            stdout,
            stderr: Vec::new(),
        },
        peak,
    )
}

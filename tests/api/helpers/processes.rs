//! Real processes and sockets for tests: a `tokenmint serve` child, and a TCP proxy that can cut
//! the database away.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A `tokenmint serve` child process whose stderr is collected.
pub struct ServeProcess {
    child: Child,
    /// `127.0.0.1:PORT` it listens on.
    pub addr: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServeProcess {
    /// Starts `tokenmint serve` in `dir` with `args` before `serve`, and waits for it to listen.
    pub async fn start(
        dir: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokenmint"));
        command
            .args(args)
            .arg("serve")
            .current_dir(dir)
            .env_remove("TOKENMINT_MASTER_KEY")
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line()).await;
            let Ok(Ok(Some(line))) = line else {
                let log = log.lock().unwrap().clone();
                return Err(format!(
                    "tokenmint exited or stalled before listening; log:\n{log}"
                ));
            };
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(rest) = line.split("tokenmint listening").nth(1) {
                break rest.split("addr=").nth(1).unwrap_or("").trim().to_string();
            }
        };
        let sink = std::sync::Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Ok(Self { child, addr, log })
    }

    /// Kills the process and returns everything it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.log.lock().unwrap().clone()
    }
}

/// A TCP proxy in front of the database that a test can cut (every connection reset, new ones
/// refused) and restore: a database outage without stopping the shared server.
pub struct CuttableProxy {
    pub port: u16,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl CuttableProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut = std::sync::Arc::new(cut);
        let state = std::sync::Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *state.borrow() {
                    continue; // dropped at once: the client sees the connection closed
                }
                let mut cut_signal = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_signal.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

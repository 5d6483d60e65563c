//! The real programs of the scale-out test and bench: `redis-server` and `nginx` (running
//! `deploy/nginx.conf`) on loopback ports. One definition for both, so the bench measures the
//! setup the test checks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `redis-server` or `nginx`, from PATH or Debian's sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Waits (10 s at most) until something listens on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` on `port`, without persistence, listening.
pub fn spawn_redis(program: &Path, port: u16) -> Child {
    let child = Command::new(program)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    wait_for_port(port, "redis-server");
    child
}

/// `deploy/nginx.conf` with its placeholders filled in: nginx on `port` in front of the brokers
/// at `a` and `b` (`host:port`).
pub fn nginx_config(port: u16, a: &str, b: &str) -> String {
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let config = template
        .replace("${LISTEN}", &format!("127.0.0.1:{port}"))
        .replace("${BROKER_A}", a)
        .replace("${BROKER_B}", b);
    assert!(!config.contains("${"), "a placeholder is left");
    config
}

/// nginx in the foreground with [`nginx_config`], its prefix (and `error.log`) in `dir`,
/// listening. Stop it with SIGTERM to the returned master, which stops its workers.
pub fn spawn_nginx(program: &Path, dir: &Path, port: u16, a: &str, b: &str) -> Child {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("nginx.conf"), nginx_config(port, a, b)).unwrap();
    let child = Command::new(program)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("error.log")).unwrap())
        .spawn()
        .expect("start nginx");
    wait_for_port(port, "nginx");
    child
}

/// SIGTERM to a child this process started and has not reaped (nginx's master then stops
/// its workers; a SIGKILL would orphan them), then reaps it.
pub fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let _ = child.wait();
}

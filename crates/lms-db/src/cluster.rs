//! A private PostgreSQL cluster started from the local server binaries.
//!
//! `lms serve` uses one kept in a data folder when no `DATABASE_URL` is
//! given, and the tests use a throwaway one. The cluster listens on loopback
//! only, trusts local connections, and is stopped when its owner drops it or,
//! should the owner die without dropping it, by a watchdog that notices the
//! owner's end of a pipe closing.

use std::fs;
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the server binaries are looked for when `initdb` is not on `PATH`.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

/// Options for [`LocalCluster::start`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The data folder; created and initialised when empty.
    pub data_dir: PathBuf,
    /// A throwaway cluster: no fsync, and the folder is removed at the end.
    pub ephemeral: bool,
    /// The folder holding `initdb` and `postgres`; found automatically when
    /// `None` (`LMS_PG_BIN`, then `PATH`, then Debian's layout).
    pub bin_dir: Option<PathBuf>,
}

/// A running local cluster. Dropping it stops the server.
#[derive(Debug)]
pub struct LocalCluster {
    data_dir: PathBuf,
    port: u16,
    ephemeral: bool,
    server: Option<Child>,
    /// Our end of the watchdog's pipe: closing it (by drop or by our death)
    /// makes the watchdog stop the server.
    watchdog: Option<(Child, ChildStdin)>,
}

impl LocalCluster {
    /// Starts the cluster in `opts.data_dir`, initialising it first if needed.
    /// A server already running on that folder (left by an earlier process) is
    /// reused.
    pub fn start(opts: &ClusterOptions) -> anyhow::Result<Self> {
        let bin_dir = match &opts.bin_dir {
            Some(dir) => dir.clone(),
            None => find_bin_dir()?,
        };
        fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating {}", opts.data_dir.display()))?;
        let mut data_dir = opts.data_dir.canonicalize()?;
        let run_as = unprivileged_user()?;
        if let Some((uid, gid)) = run_as
            && !reachable(&data_dir, uid, gid)
        {
            data_dir = relocate(&data_dir, opts.ephemeral, uid, gid)?;
        }

        if let Some(port) = running_server_port(&data_dir) {
            tracing::info!(port, data_dir = %data_dir.display(), "reusing running local PostgreSQL");
            return Ok(Self {
                data_dir,
                port,
                ephemeral: false,
                server: None,
                watchdog: None,
            });
        }

        if !data_dir.join("PG_VERSION").exists() {
            init_data_dir(&bin_dir, &data_dir, run_as, opts.ephemeral)?;
        }

        let port = free_port()?;
        let mut cmd = Command::new(bin_dir.join("postgres"));
        cmd.arg("-D")
            .arg(&data_dir)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
            .arg("-k")
            .arg(&data_dir)
            .args(["-c", "max_connections=200", "-c", "shared_buffers=64MB"])
            .args(statement_statistics(&bin_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&data_dir)?)
            .current_dir(&data_dir);
        if opts.ephemeral {
            // Durability buys nothing for a cluster thrown away at the end.
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        if let Some((uid, gid)) = run_as {
            cmd.uid(uid).gid(gid);
        }
        let server = cmd.spawn().context("starting postgres")?;
        let watchdog = spawn_watchdog(server.id(), opts.ephemeral.then_some(&data_dir))?;
        let mut cluster = Self {
            data_dir,
            port,
            ephemeral: opts.ephemeral,
            server: Some(server),
            watchdog: Some(watchdog),
        };
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// The TCP port the server listens on (loopback only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for the superuser `postgres` to `database`.
    pub fn superuser_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(server) = self.server.as_mut()
                && let Some(status) = server.try_wait()?
            {
                bail!(
                    "postgres exited with {status} during start; see {}",
                    self.data_dir.join("server.log").display()
                );
            }
            if running_server_port(&self.data_dir) == Some(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("postgres did not become ready within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGINT is PostgreSQL's "fast" shutdown: clients are
            // disconnected, the cluster is left consistent.
            let pid = nix::unistd::Pid::from_raw(server.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let _ = server.wait();
        }
        if let Some((mut watchdog, pipe)) = self.watchdog.take() {
            drop(pipe);
            let _ = watchdog.wait();
        }
        if self.ephemeral {
            let _ = fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// The folder with `initdb` and `postgres`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LMS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                // Follow symlinks so `postgres` is taken from the same install.
                let real = initdb.canonicalize().unwrap_or(initdb);
                let dir = real.parent().map(Path::to_path_buf).unwrap_or(dir);
                if dir.join("postgres").is_file() {
                    return Ok(dir);
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(DEBIAN_PG_LIB)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL server binaries found (initdb, postgres): install Debian's \
             `postgresql` package, or set LMS_PG_BIN, or set DATABASE_URL to use an existing server"
        ),
    }
}

/// PostgreSQL refuses to run as root: when we are root, the cluster runs as
/// the `postgres` system user that Debian's package creates.
fn unprivileged_user() -> anyhow::Result<Option<(u32, u32)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name("postgres")?
        .context("running as root needs a `postgres` system user to own the local cluster")?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

fn init_data_dir(
    bin_dir: &Path,
    data_dir: &Path,
    run_as: Option<(u32, u32)>,
    ephemeral: bool,
) -> anyhow::Result<()> {
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))?;
    if let Some((uid, gid)) = run_as {
        nix::unistd::chown(
            data_dir,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )?;
    }
    let mut cmd = Command::new(bin_dir.join("initdb"));
    cmd.arg("-D")
        .arg(data_dir)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .current_dir(data_dir)
        .stdin(Stdio::null());
    if ephemeral {
        cmd.arg("--no-sync");
    }
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output().context("running initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Whether user `uid` (group `gid`) may traverse every folder down to
/// `dir`, as the server needs to open its data folder by path.
fn reachable(dir: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors().all(|d| match fs::metadata(d) {
        Ok(m) => {
            let mode = m.mode();
            if m.uid() == uid {
                mode & 0o100 != 0
            } else if m.gid() == gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            }
        }
        Err(_) => false,
    })
}

/// Where the cluster of `data_dir` lives when the server's user cannot
/// reach `data_dir` (run as root from a private folder, such as root's home
/// or a `mktemp -d`): a folder of the same name under `/var/lib/tenantry-lms`
/// (or, for a throwaway cluster, the system's temporary folder), with a note
/// in `data_dir` saying where. Fails with what to do when neither is
/// reachable either.
fn relocate(data_dir: &Path, ephemeral: bool, uid: u32, gid: u32) -> anyhow::Result<PathBuf> {
    let root = if ephemeral {
        std::env::temp_dir().join("tenantry-lms")
    } else {
        PathBuf::from("/var/lib/tenantry-lms")
    };
    let name: String = data_dir
        .to_string_lossy()
        .trim_start_matches('/')
        .chars()
        .map(|c| if c == '/' { '-' } else { c })
        .collect();
    let target = root.join(name);
    let made = fs::create_dir_all(&target).and_then(|()| {
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700))
    });
    if made.is_err() || !reachable(&root, uid, gid) {
        bail!(
            "the `postgres` user cannot reach {} (a folder on the way is private to root), \
             nor {}: let it through (`chmod o+x` on each folder of the path) or choose a \
             data folder it can reach with --data-dir",
            data_dir.display(),
            root.display()
        );
    }
    if ephemeral {
        let _ = fs::remove_dir(data_dir);
    } else {
        fs::write(
            data_dir.join("CLUSTER_LOCATION"),
            format!(
                "The PostgreSQL cluster of this folder lives in {}: the `postgres` user \
                 cannot reach this folder.\n",
                target.display()
            ),
        )?;
    }
    tracing::info!(
        asked = %data_dir.display(),
        data_dir = %target.display(),
        "the data folder is private to root; the cluster lives where the postgres user can reach it"
    );
    Ok(target)
}

/// The port of a server already running on `data_dir`, read from its
/// `postmaster.pid` once it reports `ready`.
fn running_server_port(data_dir: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = pid_file.lines().collect();
    let pid: i32 = lines.first()?.trim().parse().ok()?;
    let port: u16 = lines.get(3)?.trim().parse().ok()?;
    let ready = lines.get(7).is_some_and(|s| s.trim() == "ready");
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    (ready && alive).then_some(port)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn log_file(data_dir: &Path) -> anyhow::Result<fs::File> {
    let path = data_dir.join("server.log");
    match fs::OpenOptions::new().create(true).append(true).open(&path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Ok(fs::File::create("/dev/null")?),
        Err(e) => Err(e.into()),
    }
}

/// A shell that waits for its standard input to close, then stops the server
/// (and removes a throwaway data folder). It outlives us if we are killed.
fn spawn_watchdog(
    server_pid: u32,
    remove: Option<&PathBuf>,
) -> anyhow::Result<(Child, ChildStdin)> {
    let mut script = format!(
        "cat >/dev/null; kill -INT {server_pid} 2>/dev/null; \
         i=0; while kill -0 {server_pid} 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         kill -QUIT {server_pid} 2>/dev/null;"
    );
    if let Some(dir) = remove {
        script.push_str(&format!(" rm -rf '{}'", dir.display()));
    }
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the cluster watchdog")?;
    let mut stdin = child.stdin.take().context("watchdog stdin")?;
    stdin.flush()?;
    Ok((child, stdin))
}

/// Loads `pg_stat_statements` (the operators' slowest statements) when the
/// installation has it, as the Debian and most other packages do.
fn statement_statistics(bin_dir: &Path) -> Vec<&'static str> {
    let lib = bin_dir.join("../lib/pg_stat_statements.so");
    if lib.is_file() {
        vec!["-c", "shared_preload_libraries=pg_stat_statements"]
    } else {
        Vec::new()
    }
}

//! `serve` out of file descriptors (a test binary of its own: it lowers the process's
//! `RLIMIT_NOFILE`). The cap on open connections follows `ulimit -n`, and when `accept` fails
//! with `EMFILE` the server backs off instead of spinning, then serves the waiting connection.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratelab_live::{MockApi, ServeLimits, Server};

fn nofile() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    r
}

fn set_nofile(soft: libc::rlim_t) {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: nofile().rlim_max,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) }, 0);
}

/// The process's CPU time (user + system).
fn cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given; all-zero is a valid rusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_follows_ulimit_and_emfile_backs_off() {
    let spec = toml::from_str(r#"latency = { kind = "fixed", ms = 1 }"#).unwrap();
    let api = Arc::new(MockApi::new(&spec, 1, 1));
    let before = nofile().rlim_cur;

    // Under `ulimit -n 256` the cap leaves 64 descriptors free.
    set_nofile(256);
    let server = Server::bind_with(
        ([127, 0, 0, 1], 0).into(),
        Arc::clone(&api),
        ServeLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(server.max_connections(), 256 - 64);
    assert_eq!(ratelab_live::server::connection_cap(4096, Some(256)), 192);
    assert_eq!(ratelab_live::server::connection_cap(4096, Some(100)), 50);
    assert_eq!(ratelab_live::server::connection_cap(4096, None), 4096);
    assert_eq!(ratelab_live::server::connection_cap(10, Some(256)), 10);

    // A connection whose socket exists before the descriptors run out: after the limit is set
    // at the lowest free descriptor, the server's `accept` fails with EMFILE.
    // SAFETY: plain socket calls on a descriptor this test owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let port = server.addr().port();
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the lowest free descriptor (dup returns it), closed again at once.
    let lowest = unsafe { libc::dup(0) };
    assert!(lowest >= 0);
    unsafe { libc::close(lowest) };
    set_nofile(lowest as libc::rlim_t);
    // SAFETY: `sa` is a valid sockaddr_in of the size given.
    let connected = unsafe {
        libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(connected, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a connected TCP socket owned by nothing else.
    let mut client = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    client
        .write_all(b"GET /_ratelab/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();

    // A second of EMFILE: the accept loop waits 100 ms between tries, it does not spin.
    let (cpu0, t0) = (cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu() - cpu0;
    let wall = t0.elapsed();
    assert!(
        used < wall / 5,
        "{used:?} of CPU in {wall:?} while out of file descriptors"
    );

    // Descriptors back: the waiting connection is accepted and answered.
    set_nofile(before);
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().await;
}

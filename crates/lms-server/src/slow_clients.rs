//! A bound on slow clients: a connection that has not sent the whole head of
//! its first request (request line and headers) within the limit is closed,
//! so a client dribbling bytes cannot hold connections open. Idle
//! keep-alive connections are closed by the server's idle timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Wraps an acceptor: each connection gets `limit` to send its first head.
pub struct HeadDeadline<A> {
    inner: A,
    limit: Duration,
}

impl<A> HeadDeadline<A> {
    /// Bounds the connections of `inner`.
    pub fn new(inner: A, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

impl<A: Acceptor> Acceptor for HeadDeadline<A> {
    type Io = Bounded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let io = Bounded {
            inner: io,
            deadline: Some(Box::pin(tokio::time::sleep(self.limit))),
            begun: false,
            newlines: 0,
        };
        Ok((io, local, remote, scheme))
    }
}

/// A connection whose first head must arrive before its deadline.
pub struct Bounded<T> {
    inner: T,
    /// Until the end of the first head (an empty line) has been read.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether the head has begun (blank lines before it do not count).
    begun: bool,
    /// Line feeds since the last byte that was neither CR nor LF.
    newlines: u8,
}

impl<T> Bounded<T> {
    /// Follows the bytes of the head; an empty line ends it (`\r\n\r\n`,
    /// or bare `\n\n`, which servers accept too).
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.begun => {
                    self.newlines += 1;
                    if self.newlines == 2 {
                        self.deadline = None;
                        return;
                    }
                }
                b'\r' | b'\n' => {}
                _ => {
                    self.begun = true;
                    self.newlines = 0;
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Bounded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match polled {
            Poll::Ready(Ok(())) if self.deadline.is_some() => {
                self.scan(&buf.filled()[before..]);
            }
            // Nothing more yet: past the deadline, the wait is over.
            Poll::Pending => {
                if let Some(deadline) = self.deadline.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request head took too long to arrive",
                    )));
                }
            }
            _ => {}
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Bounded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded() -> Bounded<()> {
        Bounded {
            inner: (),
            deadline: Some(Box::pin(tokio::time::sleep(Duration::from_secs(60)))),
            begun: false,
            newlines: 0,
        }
    }

    #[tokio::test]
    async fn the_end_of_the_head_is_found_across_reads() {
        let mut b = bounded();
        b.scan(b"GET / HTTP/1.1\r\nHost: x\r\n\r");
        assert!(b.deadline.is_some());
        b.scan(b"\n");
        assert!(b.deadline.is_none());
        let mut b = bounded();
        b.scan(b"GET / HTTP/1.1\nHost: x\n\n");
        assert!(b.deadline.is_none(), "bare line feeds");
    }

    #[tokio::test]
    async fn blank_lines_before_the_head_do_not_end_it() {
        let mut b = bounded();
        b.scan(b"\r\n\r\n\r\n");
        assert!(b.deadline.is_some());
        b.scan(b"GET / HTTP/1.1\r\n");
        assert!(b.deadline.is_some());
        b.scan(b"\r\n");
        assert!(b.deadline.is_none());
    }
}

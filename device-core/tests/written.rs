//! A message without a response is reported sent only once the transport has taken it: a write that never
//! completes ends in `ConnectionLost`, never in a false `Ok(None)`.
#![cfg(feature = "tokio")]

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use device_core::jetinno::{
    MachineCommand, MachineConfig, MachineEvent, MachineSession, ServerConfig, ServerSession,
};
use device_core::runtime::{attach, Attached, CommandError, DriverConfig};
use device_core::RequestError;
use jetinno_proto::{MachineCode, MachineState, MachineStatus};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// A pipe end whose reads the test can stop, so that the other end's writes fill the pipe and block.
struct Freezable {
    io: DuplexStream,
    frozen: Arc<AtomicBool>,
}

impl AsyncRead for Freezable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.frozen.load(Ordering::SeqCst) {
            // Never ready again: the test ends by the writer's timeout.
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Freezable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn status() -> MachineCommand {
    MachineCommand::Send(
        MachineStatus {
            vmc_no: 1,
            status: MachineState::DoorClose,
        }
        .into(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_message_the_transport_never_takes_is_lost_not_sent() {
    let code = MachineCode::new("12345678").unwrap();
    let (machine_io, server_io) = tokio::io::duplex(512);
    let frozen = Arc::new(AtomicBool::new(false));
    let server = attach(
        ServerSession::new(ServerConfig::default(), move |_: u64| Some(code.clone())),
        Freezable {
            io: server_io,
            frozen: frozen.clone(),
        },
        DriverConfig::default(),
    );
    let Attached {
        handle,
        mut events,
        task: _machine_task,
    } = attach(
        MachineSession::new(MachineConfig::new(
            1,
            MachineCode::new("12345678").unwrap(),
            "1",
        )),
        machine_io,
        DriverConfig::default(),
    );
    loop {
        if let MachineEvent::LoggedIn { .. } = events.recv().await.unwrap() {
            break;
        }
    }
    // The server stops reading: the 512-byte pipe takes a few status reports, then the machine's write blocks.
    frozen.store(true, Ordering::SeqCst);
    let mut sent = 0;
    let outcome = loop {
        match handle.call(status()).await {
            Ok(None) => sent += 1,
            other => break other,
        }
        assert!(sent < 100, "every status report was reported sent");
    };
    // The blocked write ends at the write timeout, and the message it held is reported lost.
    assert_eq!(
        outcome,
        Err(CommandError::Failed(RequestError::ConnectionLost)),
        "after {sent} sent"
    );
    assert!(sent >= 1, "nothing was sent before the pipe filled");
    drop(server);
}

//! `inspect`: decode captured device traffic into JSON lines, or encode JSON lines into wire bytes.
//!
//! ```text
//! cargo run -q --example inspect -- decode <aliscan|jetinno|access|best|kingxun> [--hex] [--key HEX --iv HEX]
//! cargo run -q --example inspect -- encode <protocol> [--key HEX --iv HEX]
//! ```
//!
//! `decode` reads all of stdin as wire bytes (`--hex`: hex text, whitespace ignored). jetinno, access and kingxun
//! are TCP byte streams split by their framing; aliscan and best carry one message per line (one WebSocket text
//! frame each). It prints one JSON line per message:
//! `{"ok":true,"name":NAME,"known":BOOL,"message":JSON}` or `{"ok":false,"error":TEXT}`. An error inside a
//! well-delimited frame is printed and decoding goes on; an error in the framing itself is printed and ends the
//! run. Exit status: 0 when every message decoded, 1 otherwise, 2 for bad arguments.
//!
//! `encode` reads one JSON message per line (what `decode` prints under `message`) and writes the wire bytes to
//! stdout (aliscan and best: one line each). An invalid message is reported on stderr with its line number and
//! exit status 1.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

mod access;
mod aliscan;
mod best;
mod jetinno;
mod kingxun;

/// One decoded message, as printed by `decode`.
#[derive(Debug)]
pub struct Decoded {
    /// The wire name: jetinno `cmd`, aliscan `topic`, access `mod`, best `funcId`, kingxun the decimal MsgId.
    pub name: String,
    /// Whether the crate knows this message (an unknown one is shown raw).
    pub known: bool,
    /// The typed message encoded back to its wire JSON, or the raw JSON of an unknown message.
    pub message: Value,
}

/// What decoding a whole byte stream produced.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// One entry per delimited frame, in order; an `Err` is a frame whose content did not decode.
    pub frames: Vec<Result<Decoded, String>>,
    /// A framing error that ended the stream, or leftover bytes that are not a whole frame.
    pub fatal: Option<String>,
}

/// `--key` / `--iv` given on the command line (16 bytes each), used by protocols with sealed bodies.
#[derive(Default)]
pub struct Keys {
    /// AES key.
    pub key: Option<[u8; 16]>,
    /// AES IV.
    pub iv: Option<[u8; 16]>,
}

/// Says whether a key and an IV were given, never their bytes.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |v: &Option<[u8; 16]>| if v.is_some() { "<16 bytes>" } else { "none" };
        f.debug_struct("Keys")
            .field("key", &format_args!("{}", given(&self.key)))
            .field("iv", &format_args!("{}", given(&self.iv)))
            .finish()
    }
}

/// How a protocol carries its messages, and the functions that decode and encode them.
enum Carrier {
    /// A TCP byte stream split by the protocol's framing.
    Stream {
        decode: fn(&[u8], &Keys) -> StreamOutcome,
        encode: fn(&Value, &Keys) -> Result<Vec<u8>, String>,
    },
    /// One message per line (one WebSocket text frame each).
    Lines {
        decode: fn(&str) -> Result<Decoded, String>,
        encode: fn(&Value) -> Result<String, String>,
    },
}

const PROTOCOLS: [&str; 5] = ["aliscan", "jetinno", "access", "best", "kingxun"];

fn carrier(protocol: &str) -> Option<Carrier> {
    match protocol {
        "aliscan" => Some(Carrier::Lines {
            decode: aliscan::decode_line,
            encode: aliscan::encode,
        }),
        "jetinno" => Some(Carrier::Stream {
            decode: jetinno::decode_stream,
            encode: jetinno::encode,
        }),
        "kingxun" => Some(Carrier::Stream {
            decode: kingxun::decode_stream,
            encode: kingxun::encode,
        }),
        "best" => Some(Carrier::Lines {
            decode: best::decode_line,
            encode: best::encode,
        }),
        "access" => Some(Carrier::Stream {
            decode: access::decode_stream,
            encode: access::encode,
        }),
        _ => None,
    }
}

struct Args {
    command: String,
    protocol: String,
    hex: bool,
    keys: Keys,
}

fn parse_key(flag: &str, value: Option<String>) -> Result<[u8; 16], String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value (32 hex digits)"))?;
    let bytes = hex::decode(value.trim()).map_err(|e| format!("{flag}: not hex: {e}"))?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{flag}: expected 16 bytes, got {}", bytes.len()))
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = raw.next().ok_or("missing command: decode or encode")?;
    if command != "decode" && command != "encode" {
        return Err(format!(
            "unknown command `{command}`: expected decode or encode"
        ));
    }
    let protocol = raw
        .next()
        .ok_or_else(|| format!("missing protocol: one of {}", PROTOCOLS.join(", ")))?;
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(format!(
            "unknown protocol `{protocol}`: expected one of {}",
            PROTOCOLS.join(", ")
        ));
    }
    let mut args = Args {
        command,
        protocol,
        hex: false,
        keys: Keys::default(),
    };
    while let Some(flag) = raw.next() {
        match flag.as_str() {
            "--hex" if args.command == "decode" => args.hex = true,
            "--key" => args.keys.key = Some(parse_key("--key", raw.next())?),
            "--iv" => args.keys.iv = Some(parse_key("--iv", raw.next())?),
            other => return Err(format!("unknown option `{other}` for {}", args.command)),
        }
    }
    Ok(args)
}

/// A printed line, with its keys in the documented order.
#[derive(Serialize)]
#[serde(untagged)]
enum Line<'a> {
    Ok {
        ok: bool,
        name: &'a str,
        known: bool,
        message: &'a Value,
    },
    Err {
        ok: bool,
        error: &'a str,
    },
}

fn print_line(out: &mut impl Write, line: &Line<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

fn print_error(out: &mut impl Write, error: &str) -> io::Result<()> {
    print_line(out, &Line::Err { ok: false, error })
}

fn print_frame(out: &mut impl Write, frame: &Result<Decoded, String>) -> io::Result<bool> {
    match frame {
        Ok(d) => {
            let line = Line::Ok {
                ok: true,
                name: &d.name,
                known: d.known,
                message: &d.message,
            };
            print_line(out, &line)?;
            Ok(true)
        }
        Err(error) => {
            print_error(out, error)?;
            Ok(false)
        }
    }
}

fn decode(carrier: Carrier, args: &Args, input: &[u8]) -> io::Result<bool> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut all_ok = true;
    match carrier {
        Carrier::Stream { decode, .. } => {
            let outcome = decode(input, &args.keys);
            for frame in &outcome.frames {
                all_ok &= print_frame(&mut out, frame)?;
            }
            if let Some(fatal) = outcome.fatal {
                all_ok = false;
                print_error(&mut out, &fatal)?;
            }
        }
        Carrier::Lines { decode, .. } => match std::str::from_utf8(input) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    all_ok &= print_frame(&mut out, &decode(line))?;
                }
            }
            Err(e) => {
                all_ok = false;
                let error = format!("input is not UTF-8 text: {e}");
                print_error(&mut out, &error)?;
            }
        },
    }
    out.flush()?;
    Ok(all_ok)
}

fn encode(carrier: Carrier, args: &Args, input: &[u8]) -> io::Result<bool> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let Ok(text) = std::str::from_utf8(input) else {
        eprintln!("input is not UTF-8 text");
        return Ok(false);
    };
    let mut all_ok = true;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let encoded = serde_json::from_str::<Value>(line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|value| match carrier {
                Carrier::Stream { encode, .. } => encode(&value, &args.keys),
                Carrier::Lines { encode, .. } => encode(&value).map(|mut l| {
                    l.push('\n');
                    l.into_bytes()
                }),
            });
        match encoded {
            Ok(bytes) => out.write_all(&bytes)?,
            Err(error) => {
                all_ok = false;
                eprintln!("line {}: {error}", number + 1);
            }
        }
    }
    out.flush()?;
    Ok(all_ok)
}

fn run(args: &Args) -> Result<bool, String> {
    let Some(carrier) = carrier(&args.protocol) else {
        return Err(format!(
            "protocol `{}` is not built into this version of inspect",
            args.protocol
        ));
    };
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let io_result = if args.command == "decode" {
        if args.hex {
            let text: String = String::from_utf8_lossy(&input)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            input = hex::decode(text).map_err(|e| format!("--hex input is not hex: {e}"))?;
        }
        decode(carrier, args, &input)
    } else {
        encode(carrier, args, &input)
    };
    io_result.map_err(|e| format!("cannot write stdout: {e}"))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("inspect: {e}");
            eprintln!(
                "usage: inspect decode <{}> [--hex] [--key HEX --iv HEX]",
                PROTOCOLS.join("|")
            );
            eprintln!("       inspect encode <protocol> [--key HEX --iv HEX]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("inspect: {e}");
            ExitCode::from(2)
        }
    }
}

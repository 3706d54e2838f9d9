//! `send_user_command` and `send_device_command`: free-form commands.

use serde::{Deserialize, Serialize};

/// `command_type` - the command's number. The spec defines none (its examples use 2); the two peers agree on
/// them, so the number is kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandType(pub i64);

/// A custom command: the body of `send_user_command` (server -> terminal) and `send_device_command`
/// (terminal -> server).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// `command_type`.
    pub command_type: CommandType,
    /// `command_value` - the command's argument, free text.
    pub command_value: String,
}

//! The command (`app.NewAPIServerCommand`) and the server lifecycle
//! (`app.Run`); options, completion and validation live in `options`.

pub mod options;
pub mod server;

pub use server::{LONG_DESCRIPTION, execute, new_api_server_command};

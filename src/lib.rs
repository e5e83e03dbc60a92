//! bulletin: project updates and contact lists in, one personal newsletter per contact out.
//!
//! The pipeline runs in stages, one module each: [`config`] → [`contacts`] + [`updates`] +
//! [`campaign`] → [`audience`] → [`render`] → [`compose`] → [`preview`] or [`send`].
//! [`project`] loads a whole project folder through those stages for the commands in [`cli`];
//! ARCHITECTURE.md gives the order in which modules may use each other.

pub mod address;
pub mod approval;
pub mod archive;
pub mod attachments;
pub mod audience;
pub mod bounces;
pub mod campaign;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod contacts;
pub mod digest;
pub mod dns;
pub mod due;
pub mod error;
pub mod history;
pub mod interrupt;
pub mod journal;
pub mod language;
pub mod limits;
pub mod preview;
pub mod problems;
pub mod project;
pub mod render;
pub mod report;
pub mod safe_html;
pub mod scaffold;
pub mod secret;
pub mod send;
pub mod serve;
pub mod sign;
pub mod term;
pub mod text;
pub mod token;
pub mod typography;
pub mod updates;
pub mod window;

pub use error::{Error, Result};

//! Every integration test in one binary (as just and mdBook do): one link instead of one per
//! area, and one run. Each area is a module; `common` holds the harness they share: projects in
//! temporary folders, the real binary, SMTP servers and Chromium.

mod common;

mod accountability;
mod architecture;
mod archive;
mod audience;
mod bounces;
mod consent;
mod content;
mod crash;
mod dkim;
mod due;
mod init;
mod invalid;
mod lists;
mod operator;
mod preview;
mod readers;
mod relays;
mod safety;
mod send;
mod serve;
mod snapshots;
mod spam;
mod tls;

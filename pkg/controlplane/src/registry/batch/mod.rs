//! The `batch/v1` group's kinds, and the schedule and time-zone checks of
//! CronJobs.

pub mod cron_job;
pub mod job;
pub mod schedule;
pub mod time_zone;

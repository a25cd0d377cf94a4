//! CronJob time zones as Go's `time.LoadLocation` finds them: `UTC`, or a
//! name of the IANA database in this machine's zoneinfo (`$ZONEINFO`, then
//! the system's directories), checked for path tricks first.

use std::path::Path;

/// The zoneinfo directories Go reads on Unix, after `$ZONEINFO`.
const ZONEINFO_DIRS: [&str; 3] = [
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
];

/// Whether `name` is a safe zone name (`validTimeZoneCharacters` per part,
/// no `.`, `..` or leading `-` part).
pub fn is_well_formed(name: &str) -> bool {
    name.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && !part.starts_with('-')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    })
}

/// Whether `time.LoadLocation(name)` succeeds.
pub fn is_known(name: &str) -> bool {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return true;
    }
    if !is_well_formed(name) {
        return false;
    }
    let from_env = std::env::var("ZONEINFO").ok().filter(|dir| !dir.is_empty());
    from_env
        .iter()
        .map(String::as_str)
        .chain(ZONEINFO_DIRS)
        .any(|dir| Path::new(dir).join(name).is_file())
}

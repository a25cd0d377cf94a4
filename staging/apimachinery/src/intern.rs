//! Names that live as long as the process, each text once: the generic
//! registry and the patch metadata take `&'static str` names, and kinds
//! defined at run time (custom resources) bring theirs from a client. The
//! memory is bounded by the distinct names every definition ever served
//! carried (each a DNS label or subdomain, a schema's field name or key).

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

/// Every text handed out so far.
static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

/// `text` as a name that lives as long as the process.
pub fn intern(text: &str) -> &'static str {
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = interned.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
    interned.insert(leaked);
    leaked
}

/// Lists of names (short names, categories), interned whole.
static INTERNED_LISTS: LazyLock<Mutex<HashSet<&'static [&'static str]>>> =
    LazyLock::new(Default::default);

/// `items` as a list that lives as long as the process.
pub fn intern_list(items: &[String]) -> &'static [&'static str] {
    let names: Vec<&'static str> = items.iter().map(|item| intern(item)).collect();
    let mut interned = INTERNED_LISTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = interned.get(names.as_slice()) {
        return found;
    }
    let leaked: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    interned.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_hands_out_one_copy_per_text() {
        let first = intern("widgets");
        let second = intern(&String::from("widgets"));
        assert!(std::ptr::eq(first, second));
        let list = intern_list(&["wg".to_string(), "w".to_string()]);
        assert!(std::ptr::eq(
            list,
            intern_list(&["wg".to_string(), "w".to_string()])
        ));
        assert_eq!(list, ["wg", "w"]);
    }
}

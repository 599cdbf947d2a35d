//! `--cpu`: the target CPU profile on the command line (the differential tests in loader_diff.rs
//! show each profile agreeing with glibc's loader on that CPU).

mod support;

use std::process::Output;

use serde_json::Value;
use support::Elfdeps;

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "elfdeps failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn object<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["path"] == path)
        .unwrap_or_else(|| panic!("no object {path}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// The same root under two profiles: `$PLATFORM`, a platform directory in the cache and
/// `--hwcaps` replacing only the levels. The JSON says which profile was used.
#[test]
fn profiles_change_what_glibc_loads() {
    if !support::require_root_or_skip("--cpu on the hard cases") {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let root = base.join("glibc");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "-q", "--format", "json"];
        args.extend_from_slice(extra);
        json(&Elfdeps::new(&args).arg(&root).output())
    };
    let baseline = scan(&[]);
    assert_eq!(baseline["cpu"]["name"], "baseline");
    let haswell = scan(&["--cpu", "haswell"]);
    assert_eq!(haswell["cpu"]["name"], "haswell");
    assert_eq!(haswell["cpu"]["x86"]["platform"], "haswell");
    let tokens = "/opt/tok/bin/tokens";
    assert!(strings(&object(&baseline, tokens)["missing"]).is_empty());
    assert_eq!(strings(&object(&haswell, tokens)["missing"]), ["libtp.so"]);
    let plat = "/usr/bin/uses-cpuplat";
    let lib = "/usr/lib/x86_64-linux-gnu";
    assert!(
        strings(&object(&baseline, plat)["closure"]).contains(&format!("{lib}/libcpuplat.so.1"))
    );
    assert!(
        strings(&object(&haswell, plat)["closure"])
            .contains(&format!("{lib}/haswell/libcpuplat.so.1"))
    );
    // A glibc-hwcaps/x86-64-v2 library: missing on the baseline, found on haswell, and found
    // with --hwcaps x86-64-v2 alone, which leaves the platform of --cpu as it is.
    let hw = "/opt/hw/bin/hwcaps";
    assert_eq!(strings(&object(&baseline, hw)["missing"]), ["libhw.so"]);
    assert!(strings(&object(&haswell, hw)["missing"]).is_empty());
    let mixed = scan(&["--cpu", "haswell", "--hwcaps", "x86-64-v2"]);
    assert!(strings(&object(&mixed, hw)["missing"]).is_empty());
    assert_eq!(strings(&object(&mixed, tokens)["missing"]), ["libtp.so"]);
    // host: whatever this CPU is, a profile named host.
    assert_eq!(scan(&["--cpu", "host"])["cpu"]["name"], "host");
}

/// An unknown name, and a profile that does not apply to the root (musl ignores the CPU), are
/// usage errors that say what to do.
#[test]
fn refused_profiles() {
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let out = Elfdeps::new(["scan", "-q", "--cpu", "pentium"])
        .arg(alpine)
        .output();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cpu pentium") && err.contains("haswell") && err.contains("host"),
        "{err}"
    );
    let out = Elfdeps::new(["scan", "-q", "--cpu", "haswell"])
        .arg(alpine)
        .output();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cpu haswell") && err.contains("musl") && err.contains("leave --cpu out"),
        "{err}"
    );
    // The baseline applies everywhere (it changes nothing).
    let out = Elfdeps::new(["scan", "-q", "--cpu", "baseline"])
        .arg(alpine)
        .output();
    assert!(out.status.success(), "{out:?}");
    // An aarch64 profile on an x86_64 glibc root.
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let out = Elfdeps::new(["scan", "-q", "--cpu", "armv8.1"])
        .arg(base.join("glibc"))
        .output();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("glibc objects only for x86_64"), "{err}");
}

/// `tree` (one program, no walk) takes the profile too, and refuses one that does not apply to
/// that program's session: musl's loader does not look at the CPU.
#[test]
fn tree_takes_the_profile_of_its_program() {
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let glibc = base.join("glibc");
    let tree = |cpu: &str| {
        json(
            &Elfdeps::new(["tree", "--format", "json", "--cpu", cpu])
                .arg(&glibc)
                .arg("/usr/bin/uses-cpuplat")
                .output(),
        )
    };
    let found = |doc: &Value| -> Vec<String> {
        doc["needs"]
            .as_array()
            .expect("needs")
            .iter()
            .filter_map(|n| n["found"].as_str().map(str::to_string))
            .collect()
    };
    let lib = "/usr/lib/x86_64-linux-gnu";
    assert!(found(&tree("baseline")).contains(&format!("{lib}/libcpuplat.so.1")));
    assert!(found(&tree("haswell")).contains(&format!("{lib}/haswell/libcpuplat.so.1")));
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let out = Elfdeps::new(["tree", "--cpu", "haswell"])
        .arg(alpine)
        .arg("/bin/busybox")
        .output();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cpu haswell") && err.contains("/bin/busybox") && err.contains("musl"),
        "{err}"
    );
}

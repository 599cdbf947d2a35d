//! `--format cyclonedx`: the BOM validates against the official CycloneDX 1.6 schema, and says
//! what the real roots hold (purls, dependencies from the loader closure, hashes of unowned files).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{describe, elfdeps};

/// The official schema, with the two schemas it references beside it.
fn schema() -> std::path::PathBuf {
    let s = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/schemas/cyclonedx/bom-1.6.schema.json");
    assert!(
        s.is_file(),
        "{} is missing (../shared beside the clone)",
        s.display()
    );
    s
}

/// Validates the BOM at `doc` against the schema; `false` (after a loud skip) when python3's
/// jsonschema is missing.
fn validates(doc: &Path) -> bool {
    // The schema's `$ref`s to spdx.schema.json and jsf-0.82.schema.json resolve against its
    // `$id`: every schema of the directory is registered under its own.
    let v = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, pathlib, jsonschema, referencing, referencing.jsonschema\n\
             main = pathlib.Path(sys.argv[1]); reg = referencing.Registry()\n\
             for f in main.parent.glob('*.json'):\n\
             \x20   s = json.load(open(f))\n\
             \x20   reg = reg.with_resource(s['$id'], referencing.Resource.from_contents(s, default_specification=referencing.jsonschema.DRAFT7))\n\
             schema = json.load(open(main)); doc = json.load(open(sys.argv[2]))\n\
             jsonschema.validators.validator_for(schema)(schema, registry=reg).validate(doc)",
        )
        .arg(schema())
        .arg(doc)
        .output()
        .expect("python3");
    if !v.status.success()
        && String::from_utf8_lossy(&v.stderr).contains("No module named 'jsonschema'")
    {
        support::skip(
            "CycloneDX schema validation",
            "python3 jsonschema is missing (pip install jsonschema, or run scripts/test)",
        );
        return false;
    }
    assert!(
        v.status.success(),
        "the BOM does not validate: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    true
}

/// Runs `elfdeps ARGS -f cyclonedx -o FILE`, validates the BOM, returns it (and its bytes).
fn bom(args: &[&str], code: i32) -> (Value, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bom.json");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", "cyclonedx"]);
    // `packages` writes to standard output only.
    let to_stdout = args[0] == "packages";
    if !to_stdout {
        all.extend(["-o", file.to_str().expect("utf-8")]);
    }
    let out = elfdeps(&all);
    assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
    if to_stdout {
        std::fs::write(&file, &out.stdout).expect("write the BOM");
    }
    validates(&file);
    let bytes = std::fs::read(&file).expect("the BOM");
    (serde_json::from_slice(&bytes).expect("JSON"), bytes)
}

fn components(doc: &Value) -> &Vec<Value> {
    doc["components"].as_array().expect("components")
}

fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    components(doc)
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn depends_on<'a>(doc: &'a Value, bom_ref: &str) -> Vec<&'a str> {
    doc["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .find(|d| d["ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no dependency entry for {bom_ref}"))["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .map(|r| r.as_str().expect("a ref"))
        .collect()
}

fn properties<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["name"] == name)
                .map(|p| p["value"].as_str().expect("a value"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn debian_bom_validates_and_curl_depends_on_libcurl4() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let root = root.to_str().expect("utf-8");
    let (doc, bytes) = bom(&["scan", root], 0);
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["component"]["type"], "operating-system");
    assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "elfdeps");
    let curl = component(&doc, "curl");
    assert_eq!(curl["type"], "application", "curl ships /usr/bin/curl");
    let purl = curl["purl"].as_str().expect("purl");
    assert!(
        purl.starts_with("pkg:deb/debian/curl@") && purl.ends_with("?arch=amd64"),
        "{purl}"
    );
    // Debian versions carry `+` (and epochs `:`): percent-encoded in the purl.
    assert!(purl.contains("%2B") && !purl.contains('+'), "{purl}");
    let libcurl = component(&doc, "libcurl4");
    assert_eq!(libcurl["type"], "library");
    let libcurl_ref = libcurl["bom-ref"].as_str().expect("bom-ref");
    let curl_ref = curl["bom-ref"].as_str().expect("bom-ref");
    assert!(
        depends_on(&doc, curl_ref).contains(&libcurl_ref),
        "{:?}",
        depends_on(&doc, curl_ref)
    );
    let loads = properties(curl, "elfdeps:loads");
    assert!(
        loads
            .iter()
            .any(|l| l.starts_with("/usr/bin/curl -> ") && l.ends_with(" (libcurl4)")),
        "{loads:?}"
    );
    // Reproducible: no timestamp, and a serial number derived from the content.
    assert!(doc["metadata"].get("timestamp").is_none());
    let (_, again) = bom(&["scan", root], 0);
    assert_eq!(bytes, again, "two scans of one root give the same BOM");
}

#[test]
fn check_bom_validates_and_carries_findings_as_properties() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let (doc, _) = bom(&["check", root.to_str().expect("utf-8")], 0);
    assert!(component(&doc, "libc6")["purl"].is_string());
    let serial = doc["serialNumber"].as_str().expect("serialNumber");
    assert!(serial.starts_with("urn:uuid:"), "{serial}");
    // Whatever the findings are, each is a well-formed property of some component or the root.
    let all = components(&doc)
        .iter()
        .chain([&doc["metadata"]["component"]])
        .flat_map(|c| properties(c, "elfdeps:finding"));
    for f in all {
        assert!(
            f.starts_with("info ") || f.starts_with("warning ") || f.starts_with("error "),
            "{f}"
        );
    }
}

#[test]
fn alpine_bom_has_apk_purls() {
    let Some(root) = support::root("alpine-x86_64") else {
        return;
    };
    let (doc, _) = bom(&["scan", root.to_str().expect("utf-8")], 0);
    let musl = component(&doc, "musl");
    let purl = musl["purl"].as_str().expect("purl");
    assert!(
        purl.starts_with("pkg:apk/alpine/musl@") && purl.ends_with("?arch=x86_64"),
        "{purl}"
    );
    let busybox = component(&doc, "busybox");
    let deps = depends_on(&doc, busybox["bom-ref"].as_str().expect("bom-ref"));
    assert!(deps.contains(&purl), "{deps:?}");
}

#[test]
fn unowned_elf_files_are_file_components_with_their_sha256() {
    let Some(sample) = support::sample_root("cyclonedx-sample-rootfs", "the BOM of unowned files")
    else {
        return;
    };
    // The sample root's database owns all its programs: a copy of it gains one no package owns.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&sample)
        .arg(&root)
        .status()
        .expect("cp");
    assert!(cp.success());
    std::fs::create_dir_all(root.join("opt")).expect("mkdir");
    std::fs::copy(root.join("usr/bin/hello"), root.join("opt/stray")).expect("copy");
    let (doc, _) = bom(&["scan", root.to_str().expect("utf-8")], 0);
    let stray = component(&doc, "/opt/stray");
    assert_eq!(stray["type"], "file");
    assert_eq!(stray["bom-ref"], "file:/opt/stray");
    let sum = Command::new("sha256sum")
        .arg(root.join("opt/stray"))
        .output()
        .expect("sha256sum");
    let want = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_string();
    assert_eq!(
        stray["hashes"],
        serde_json::json!([{"alg": "SHA-256", "content": want}])
    );
    // It loads what /usr/bin/hello loads: its dependencies are packages.
    let deps = depends_on(&doc, "file:/opt/stray");
    assert!(!deps.is_empty(), "{doc}");
    assert!(deps.iter().all(|d| d.starts_with("pkg:apk/")), "{deps:?}");
}

#[test]
fn packages_bom_lists_the_set_with_its_reasons() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let (doc, _) = bom(
        &["packages", root.to_str().expect("utf-8"), "/usr/bin/curl"],
        0,
    );
    let libcurl = component(&doc, "libcurl4");
    assert!(
        libcurl["purl"]
            .as_str()
            .expect("purl")
            .starts_with("pkg:deb/debian/libcurl4@"),
        "{libcurl}"
    );
    let reasons = properties(libcurl, "elfdeps:reason");
    assert!(
        reasons.iter().any(|r| r.starts_with("/usr/bin/curl -> ")),
        "{reasons:?}"
    );
    assert!(
        components(&doc).iter().all(|c| c["name"] != "apt"),
        "only the set"
    );
}

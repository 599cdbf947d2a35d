//! STUB.
#![allow(missing_docs)]
pub struct NssConfig {
    pub databases: Vec<NssDatabase>,
}
pub struct NssDatabase {
    pub name: String,
    pub line: usize,
    pub services: Vec<NssService>,
}
pub struct NssService {
    pub name: String,
}
pub fn parse(bytes: &[u8]) -> (NssConfig, Vec<String>) {
    let mut dbs = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(line);
        let line = line.split('#').next().unwrap_or("");
        let Some((db, rest)) = line.split_once(':') else {
            continue;
        };
        let services = rest
            .split_whitespace()
            .filter(|w| !w.starts_with('['))
            .map(|w| NssService {
                name: w.to_string(),
            })
            .collect();
        dbs.push(NssDatabase {
            name: db.trim().to_string(),
            line: n + 1,
            services,
        });
    }
    (NssConfig { databases: dbs }, Vec::new())
}
pub fn glibc_builtin_services(_v: (u32, u32)) -> &'static [&'static str] {
    &["files", "dns"]
}
pub fn module_soname(service: &str) -> String {
    format!("libnss_{service}.so.2")
}

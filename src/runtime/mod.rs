/*!
Run-time edges: code a program loads after start that its ELF NEEDED does not name — NSS modules
chosen by `/etc/nsswitch.conf`, PAM modules chosen by `/etc/pam.d`, libraries a `.note.dlopen` note
declares, an interpreter's standard library. This stage reads the configuration that decides them
([`nsswitch`], [`pam`]; every reader is bounded and reports what it skipped as warnings, since the
configuration is as untrusted as the root's files) and turns it into typed edges ([`edges`]).
*/

pub mod edges;
pub mod nsswitch;
pub mod pam;

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jira_3lo_fuzz::grant_body(data));

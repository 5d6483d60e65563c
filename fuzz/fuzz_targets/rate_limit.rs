#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jira_3lo_fuzz::rate_limit(data));

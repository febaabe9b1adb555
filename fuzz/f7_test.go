package fuzz

const childEnv = "RAFTLOG_FUZZ_CHILD"

func childMain() int { return 0 }

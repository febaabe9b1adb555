package hashiraft

// NormalizeTime applies the documented AppendedAt normalizations (for tests).
var NormalizeTime = normalizeTime

package audit

import (
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// checkpointOrigin is the first line of every checkpoint note. The text
// follows tlog.FormatTree (origin, tree size, base64 root) with its own
// origin, so a go.sum checker never takes a trail checkpoint for its own,
// and one extension line: the chain head.
const checkpointOrigin = "securedb audit trail"

// formatCheckpoint is the text a checkpoint signs: the number of records,
// the Merkle root over them and the SHA-256 of the last record line.
func formatCheckpoint(n int64, root tlog.Hash, head tlog.Hash) string {
	return checkpointOrigin + "\n" + strconv.FormatInt(n, 10) + "\n" +
		base64.StdEncoding.EncodeToString(root[:]) + "\n" +
		"chain " + base64.StdEncoding.EncodeToString(head[:]) + "\n"
}

// parseCheckpoint reads formatCheckpoint's text back; ok is false for any
// other text.
func parseCheckpoint(text string) (n int64, root tlog.Hash, head tlog.Hash, ok bool) {
	parts := strings.Split(text, "\n")
	if len(parts) != 5 || parts[0] != checkpointOrigin || parts[4] != "" || !strings.HasPrefix(parts[3], "chain ") {
		return 0, root, head, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n < 1 {
		return 0, root, head, false
	}
	r, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(r) != tlog.HashSize {
		return 0, root, head, false
	}
	h, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(parts[3], "chain "))
	if err != nil || len(h) != tlog.HashSize {
		return 0, root, head, false
	}
	copy(root[:], r)
	copy(head[:], h)
	// The text must be the one formatCheckpoint writes, so that base64
	// with stray padding bits or a "+01" size cannot pass for it.
	if formatCheckpoint(n, root, head) != text {
		return 0, root, head, false
	}
	return n, root, head, true
}

package gelf

import (
	"bytes"
	"compress/gzip"
)

// What the tests of package gelf_test share with those of package gelf.

// Gzipped compresses b with gzip, as Docker's GELF driver does by default.
func Gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

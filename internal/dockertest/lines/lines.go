// Package lines says what the test logger program prints, so tests can check every line.
package lines

import (
	"fmt"
	"math"
	"strings"
)

// Size is the size in bytes of line i, without its newline, for sizes from minSize to
// maxSize: every 100th line (from line 1) has the largest size, every 10th (from line 0) the
// smallest, and the others spread evenly on a log scale, so most lines are short and some
// are long, as in real logs.
func Size(i, minSize, maxSize int) int {
	switch {
	case maxSize <= minSize:
		return minSize
	case i%100 == 1:
		return maxSize
	case i%10 == 0:
		return minSize
	}
	u := float64((i*7919)%1000) / 1000
	return int(float64(minSize) * math.Pow(float64(maxSize)/float64(minSize), u))
}

// Line is line i of stream as the logger prints it, without the newline: the id, the stream,
// the number, and letters up to size.
func Line(id, stream string, i, size int) string {
	head := fmt.Sprintf("%s %s %d ", id, stream, i)
	if len(head) >= size {
		return head[:len(head)-1]
	}
	return head + strings.Repeat(string(rune('a'+i%26)), size-len(head))
}

// Stream is the stream line i goes to with the logger's -stream both.
func Stream(i int) string {
	if i%2 == 1 {
		return "stderr"
	}
	return "stdout"
}

package live

// lineQueue holds encoded lines, oldest first, bounded by a number of lines and by their
// bytes; a push past either bound drops the oldest lines. A line larger than the byte bound
// is still taken when the queue is empty, so one huge line shows rather than wedging.
type lineQueue struct {
	buf      [][]byte // a ring of len maxLines
	head, n  int
	bytes    int64
	maxBytes int64
}

func newLineQueue(maxLines int, maxBytes int64) lineQueue {
	return lineQueue{buf: make([][]byte, maxLines), maxBytes: maxBytes}
}

// push appends b and returns how many of the oldest lines it dropped to make room.
func (q *lineQueue) push(b []byte) (dropped int) {
	for q.n > 0 && (q.n == len(q.buf) || q.bytes+int64(len(b)) > q.maxBytes) {
		q.bytes -= int64(len(q.buf[q.head]))
		q.buf[q.head] = nil
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		dropped++
	}
	q.buf[(q.head+q.n)%len(q.buf)] = b
	q.n++
	q.bytes += int64(len(b))
	return dropped
}

// all returns the lines, oldest first, and leaves them in the queue.
func (q *lineQueue) all() [][]byte {
	out := make([][]byte, q.n)
	for i := range out {
		out[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	return out
}

// take returns the lines, oldest first, and empties the queue.
func (q *lineQueue) take() [][]byte {
	out := q.all()
	for i := range q.n {
		q.buf[(q.head+i)%len(q.buf)] = nil
	}
	q.head, q.n, q.bytes = 0, 0, 0
	return out
}

package live

import "github.com/qnib/qwatch/message"

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

// messageQueue holds messages not yet encoded, oldest first, bounded as a lineQueue is, by
// a number of messages and by an estimate of their encoded bytes that does not exceed what
// encoding makes of them: so it holds no fewer than the history keeps once they are encoded,
// and no more memory than the history's bound, plus what the estimate leaves out.
type messageQueue struct {
	buf      []message.Message // a ring of len maxLines
	size     []int64
	head, n  int
	bytes    int64
	maxBytes int64
}

func newMessageQueue(maxLines int, maxBytes int64) messageQueue {
	return messageQueue{buf: make([]message.Message, maxLines), size: make([]int64, maxLines), maxBytes: maxBytes}
}

// push appends m, dropping the oldest messages past either bound.
func (q *messageQueue) push(m message.Message) {
	size := estimate(&m)
	for q.n > 0 && (q.n == len(q.buf) || q.bytes+size > q.maxBytes) {
		q.bytes -= q.size[q.head]
		q.buf[q.head] = message.Message{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	i := (q.head + q.n) % len(q.buf)
	q.buf[i], q.size[i] = m, size
	q.n++
	q.bytes += size
}

// take returns the messages, oldest first, and empties the queue.
func (q *messageQueue) take() []message.Message {
	if q.n == 0 {
		return nil
	}
	out := make([]message.Message, q.n)
	for i := range out {
		j := (q.head + i) % len(q.buf)
		out[i], q.buf[j] = q.buf[j], message.Message{}
	}
	q.head, q.n, q.bytes = 0, 0, 0
	return out
}

// estimate is at most the length of encode(m): the strings it writes as they are (escaping
// only lengthens them) and the names of its fields.
func estimate(m *message.Message) int64 {
	n := len(m.ID) + len(m.Text) + len(m.FullText) + len(m.Host) + len(m.Source) + len(m.Container.ID) +
		len(m.Container.Name) + len(m.Container.ImageName) + len(m.Service.Name) + len(m.Event.Type) + len(m.Event.Action)
	for k, v := range m.Fields {
		n += len(k)
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return int64(n)
}

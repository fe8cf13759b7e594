package sink

import (
	"hash/fnv"

	"github.com/qnib/qwatch/message"
)

// ANSI colours for the Pretty format.
const (
	ansiReset = "\x1b[0m"
	ansiDim   = "\x1b[2m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiYel   = "\x1b[33m"
	ansiCyan  = "\x1b[36m"
)

// nameColors are the colours a container name may get: distinct on dark and light terminals,
// none of them red or yellow, which mean a level.
var nameColors = []string{"\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m", "\x1b[94m", "\x1b[95m", "\x1b[96m"}

// prettyNameWidth pads names so that the text of consecutive lines lines up.
const prettyNameWidth = 16

// AppendPretty appends the Pretty line of m (without the newline) to b: the local time of day
// to the millisecond, the container name (or host, or "-") padded to line up, the level when
// it is not info, and the text, escaped as AppendText escapes it; engine events are marked
// with "▶ event". With color, the name gets a colour of its own that stays the same for the
// same name, err and more severe levels are red, warnings yellow and debug dim.
func AppendPretty(b []byte, m *message.Message, color bool) []byte {
	if color {
		b = append(b, ansiDim...)
	}
	b = m.Time.Local().AppendFormat(b, "15:04:05.000")
	if color {
		b = append(b, ansiReset...)
	}
	b = append(b, ' ')

	name := m.Container.Name
	if name == "" {
		name = m.Host
	}
	if name == "" {
		name = "-"
	}
	if color {
		b = append(b, nameColor(name)...)
	}
	b = appendSafe(b, name)
	if color {
		b = append(b, ansiReset...)
	}
	for i := len(name); i < prettyNameWidth; i++ {
		b = append(b, ' ')
	}
	b = append(b, " | "...)

	if m.Kind == message.KindEvent {
		if color {
			b = append(b, ansiCyan+ansiBold...)
		}
		b = append(b, "▶ event "...)
		if color {
			b = append(b, ansiReset...)
		}
	}
	if m.Level != message.LevelInfo {
		levelColor := ""
		switch {
		case m.Level <= message.LevelErr:
			levelColor = ansiRed + ansiBold
		case m.Level == message.LevelWarning:
			levelColor = ansiYel
		case m.Level == message.LevelDebug:
			levelColor = ansiDim
		}
		if color && levelColor != "" {
			b = append(b, levelColor...)
		}
		b = append(b, m.Level.String()...)
		if color && levelColor != "" {
			b = append(b, ansiReset...)
		}
		b = append(b, ' ')
	}
	return appendSafe(b, m.Text)
}

func nameColor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return nameColors[h.Sum32()%uint32(len(nameColors))]
}

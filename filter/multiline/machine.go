package multiline

import "strings"

// The built-in rules are one state machine over line classes. A stream holds the lines it
// has not emitted; the state says what they are. Each new line gets a verdict:
//
//   - alone: nothing is open and the line can begin nothing: it is emitted at once;
//   - tentative: it may belong (a possible introducing line, an unconfirmed header, a blank
//     line that may be followed by more of the trace): later lines decide;
//   - join: it belongs, and so does every line held before it: they are one trace;
//   - break: it does not belong. What is confirmed is emitted as one event (or, if nothing
//     is, the first line alone), and the lines after it are looked at afresh, from the
//     empty state, together with the new line.
//
// Because a break looks at what remains from the empty state, what follows an emitted
// event is judged exactly as a replay that starts there would judge it.

type phase uint8

const (
	pFresh        phase = iota // nothing open
	pIntro                     // one plain line held: it may introduce a trace
	pIntroJUL                  // java.util.logging's two-line record head held
	pHeader                    // a header (st.cand says whose), maybe after an introducing line, maybe with message lines
	pNodePre1                  // Node's uncaught-exception preamble: "/app/x.js:3" held
	pNodePre2                  // and the source line
	pNodePre3                  // and the caret line; a blank line or the header comes next
	pNodePre4                  // and the blank line; the header comes next
	pJava                      // in a Java trace
	pJavaMsg                   // in a Java trace, after "Caused by:" or "Suppressed:": message lines may follow
	pPyHeader                  // after a chained "Traceback (most recent call last):"
	pPyFrames                  // in a traceback's frames
	pPyEnd                     // after a traceback's exception line
	pPyBlank                   // and a blank line after it
	pPyChain                   // after "During handling…" / "The above exception…"
	pPyChainBlank              // and the blank line after that
	pPyGroup                   // in an exception group's tree
	pGo                        // in a Go panic's goroutines
	pNode                      // in a JavaScript stack
	pNodeProps                 // in the error's properties, after "{", until "}"
	pNodeAfter                 // after the properties' "}"
	pNodeBlank                 // after a blank line that may precede "Node.js vNN"
	pDotnet                    // in a .NET stack
	pRuby                      // in a Ruby backtrace
	pPHP                       // in a PHP stack trace
	pDone                      // the trace's last line came: the next line closes it
	pCustom                    // a custom rule's group is open
)

type verdict uint8

const (
	vAlone verdict = iota
	vTentative
	vJoin
	vBreak
)

// maxTentative bounds the lines held before anything confirms them (an introducing line, a
// header and its message lines, a preamble) or after the last confirmed one.
const maxTentative = 12

// state is where a stream's held lines stand.
type state struct {
	phase phase
	kind  kinds // a header's candidates; once confirmed, the trace's one kind
	tent  uint8 // lines held since the last confirmed one (all of them while nothing is confirmed)
	intro bool  // a header has a line before it: no other line may take its place
	blank bool  // a Go header saw a blank line: only the goroutines may follow
	jul   bool  // the trace began with java.util.logging's record head: its blank last line belongs
}

// first judges a line when nothing is open.
func (r Rule) first(cl class, text string) (state, verdict) {
	if r.start != nil {
		if r.start.MatchString(text) {
			return state{phase: pCustom}, vJoin
		}
		return state{}, vAlone
	}
	if r.cont != nil {
		return state{phase: pCustom}, vJoin
	}
	on := r.enabled()
	if on == 0 || cl&(cBlank|cJSON) != 0 {
		return state{}, vAlone
	}
	if k, p := orphan(cl, on); k != 0 {
		return state{phase: p, kind: k}, vJoin
	}
	if cand := heads(cl) & on; cand != 0 {
		return state{phase: pHeader, kind: cand, tent: 1}, vTentative
	}
	if cl&cNodePath != 0 && on&kNode != 0 {
		return state{phase: pNodePre1, kind: kNode, tent: 1}, vTentative
	}
	return state{phase: pIntro, tent: 1, jul: cl&cJULDate != 0}, vTentative
}

// orphan returns the kind and phase of a trace that a line continues when nothing is open:
// what follows a group split at a bound, or a trace whose beginning the stream did not see.
// Only lines that occur in traces alone qualify.
func orphan(cl class, on kinds) (kinds, phase) {
	switch {
	case cl&(cAtTab|cCaused|cSuppressed) != 0 && on&kJava != 0:
		if cl&cAtTab == 0 {
			return kJava, pJavaMsg
		}
		return kJava, pJava
	case cl&cMore != 0 && cl&cTab != 0 && on&kJava != 0:
		return kJava, pJava
	case cl&cAt4 != 0 && on&kNode != 0:
		if cl&cNodeOpen != 0 {
			return kNode, pNodeProps
		}
		return kNode, pNode
	case cl&cAt3 != 0 && on&kDotnet != 0:
		return kDotnet, pDotnet
	case cl&(cGoroutine|cGoCreated) != 0 && on&kGo != 0:
		return kGo, pGo
	case cl&cPyFile != 0 && on&kPython != 0:
		return kPython, pPyFrames
	case cl&cRubyFrom != 0 && on&kRuby != 0:
		return kRuby, pRuby
	case cl&cPHPStack != 0 && on&kPHP != 0:
		return kPHP, pPHP
	}
	return 0, pFresh
}

// heads returns the kinds whose trace a line may begin.
func heads(cl class) kinds {
	var k kinds
	if cl&cHeadJava != 0 {
		k |= kJava
	}
	if cl&cHeadNode != 0 {
		k |= kNode
	}
	if cl&cHeadDotnet != 0 {
		k |= kDotnet
	}
	if cl&cHeadGo != 0 {
		k |= kGo
	}
	if cl&cHeadPy != 0 {
		k |= kPython
	}
	if cl&cHeadPyGroup != 0 {
		k |= kPyGroup
	}
	if cl&cHeadRuby != 0 {
		k |= kRuby
	}
	if cl&cHeadPHP != 0 {
		k |= kPHP
	}
	return k
}

// next judges a line while something is open, in state st; it returns the state after it.
// prev is the line before it; near says whether that was stamped within Config.Intro of it.
func (r Rule) next(st state, cl class, text, prev string, near bool) (state, verdict) {
	switch st.phase {
	case pCustom:
		if (r.start != nil && !r.start.MatchString(text)) || (r.cont != nil && r.cont.MatchString(text)) {
			return st, vJoin
		}
		return st, vBreak
	case pIntro, pIntroJUL:
		return r.afterIntro(st, cl, text, prev, near)
	case pHeader:
		return r.afterHeader(st, cl, text, prev, near)
	case pNodePre1, pNodePre2, pNodePre3, pNodePre4:
		return afterPreamble(st, cl)
	case pDone:
		return st, vBreak
	}
	st, v := inTrace(st, cl)
	if v == vTentative {
		if st.tent >= maxTentative {
			return st, vBreak
		}
		st.tent++
	} else if v == vJoin {
		st.tent = 0
	}
	return st, v
}

func (r Rule) afterIntro(st state, cl class, text, prev string, near bool) (state, verdict) {
	if st.phase == pIntro && st.jul && cl&cJULLevel != 0 && near {
		return state{phase: pIntroJUL, tent: 2}, vTentative
	}
	if cand := heads(cl) & r.enabled(); cand != 0 && introduces(prev, near, cl, text) {
		return state{phase: pHeader, kind: cand, tent: st.tent + 1, intro: true, jul: st.phase == pIntroJUL}, vTentative
	}
	return st, vBreak
}

func (r Rule) afterHeader(st state, cl class, text, prev string, near bool) (state, verdict) {
	if k, p := confirm(st.kind, cl); k != 0 {
		return state{phase: p, kind: k, jul: st.jul}, vJoin
	}
	if st.tent >= maxTentative {
		return st, vBreak
	}
	hk := heads(cl) & r.enabled()
	switch {
	case hk != 0 && !st.intro && st.tent == 1 && introduces(prev, near, cl, text):
		// The held header was not followed by its trace, but by another header: it is the
		// line that introduces this one.
		return state{phase: pHeader, kind: hk, tent: 2, intro: true}, vTentative
	case cl&cBlank != 0 && st.kind&kGo != 0:
		return state{phase: pHeader, kind: kGo, tent: st.tent + 1, intro: st.intro, blank: true}, vTentative
	case cl&(cBlank|cJSON) == 0 && !st.blank && st.kind&kMessage != 0 && (hk == 0 || hk&kGo != 0 && st.kind&kGo != 0):
		// A message line: the exception's message runs over several lines (or, for Go, the
		// runtime says more before its fatal error).
		st.kind &= kMessage
		st.tent++
		return st, vTentative
	}
	return st, vBreak
}

// introduces reports whether the line prev may introduce the header text: a line written
// with the exception, as logging libraries write their message before it. It must have been
// stamped within Config.Intro of the header (near), and the header must be one that a log
// line can come with: a runtime's report of an uncaught exception has none, and Go's panic
// has one only when log.Panic wrote it, ending with the panic's message.
func introduces(prev string, near bool, cl class, text string) bool {
	if !near || cl&cUncaught != 0 {
		return false
	}
	if msg, ok := strings.CutPrefix(text, "panic: "); ok {
		return msg != "" && strings.HasSuffix(prev, msg)
	}
	return true
}

// confirm returns the kind and phase of the trace that a line confirms a header of one of
// the kinds cand to be, or 0.
func confirm(cand kinds, cl class) (kinds, phase) {
	if at := cl & cAt; at != 0 && cand&(kJava|kNode|kDotnet) != 0 {
		var k kinds
		switch {
		case at&cAtTab != 0 && cand&kJava != 0:
			k = kJava
		case at&cAt3 != 0 && cand&kDotnet != 0:
			k = kDotnet
		case at&cAt4 != 0 && cand&kNode != 0:
			k = kNode
		case cand&kJava != 0:
			k = kJava
		case cand&kNode != 0:
			k = kNode
		default:
			k = kDotnet
		}
		switch {
		case k == kJava:
			return k, pJava
		case k == kDotnet:
			return k, pDotnet
		case cl&cNodeOpen != 0:
			return k, pNodeProps
		}
		return k, pNode
	}
	switch {
	case cand&kDotnet != 0 && cl&(cDotnetInner|cDotnetEnd) != 0:
		return kDotnet, pDotnet
	case cand&kGo != 0 && cl&(cGoroutine|cGoMisc) != 0:
		return kGo, pGo
	case cand&kPython != 0 && cl&cPyFile != 0:
		return kPython, pPyFrames
	case cand&kPyGroup != 0 && cl&cPyGroupLine != 0:
		return kPyGroup, pPyGroup
	case cand&kRuby != 0 && cl&cRubyFrom != 0:
		return kRuby, pRuby
	case cand&kPHP != 0 && cl&cPHPStack != 0:
		return kPHP, pPHP
	}
	return 0, pFresh
}

func afterPreamble(st state, cl class) (state, verdict) {
	ok := false
	switch st.phase {
	case pNodePre1:
		ok = cl&cBlank == 0 // the source line
	case pNodePre2:
		ok = cl&cNodeCaret != 0
	case pNodePre3:
		if cl&cBlank != 0 {
			ok = true
			break
		}
		fallthrough // Docker's GELF driver does not send the blank line: the header follows the caret
	case pNodePre4:
		if cl&(cBlank|cJSON) != 0 {
			return st, vBreak
		}
		return state{phase: pHeader, kind: kNode, tent: st.tent + 1, intro: true}, vTentative
	}
	if !ok {
		return st, vBreak
	}
	st.phase++
	st.tent++
	return st, vTentative
}

// inTrace judges a line in a confirmed trace. A tentative verdict's tent count is the
// caller's to keep.
func inTrace(st state, cl class) (state, verdict) {
	to := func(p phase, v verdict) (state, verdict) {
		st.phase = p
		return st, v
	}
	switch st.phase {
	case pJava, pJavaMsg:
		switch {
		case cl&(cAt|cMore) != 0:
			return to(pJava, vJoin)
		case cl&(cCaused|cSuppressed) != 0:
			return to(pJavaMsg, vJoin)
		case st.jul && cl&cBlank != 0:
			return to(pDone, vJoin) // java.util.logging ends a record with an exception by a blank line
		case st.phase == pJavaMsg && cl&(cBlank|cJSON) == 0 && heads(cl) == 0:
			return st, vTentative // the cause's message goes on
		}
	case pPyHeader:
		if cl&cPyFile != 0 {
			return to(pPyFrames, vJoin)
		}
	case pPyFrames:
		switch {
		case cl&cIndent2 != 0:
			return st, vJoin
		case cl&cPyExc != 0:
			return to(pPyEnd, vJoin)
		}
	case pPyEnd, pPyBlank:
		// The blank line before a chain sentence is optional: Docker's GELF driver does not
		// send it. Without a chain sentence, a traceback that follows is another one.
		switch {
		case cl&cPyChain != 0:
			return to(pPyChain, vJoin)
		case st.phase == pPyEnd && cl&cBlank != 0:
			return to(pPyBlank, vTentative)
		}
	case pPyChain, pPyChainBlank:
		switch {
		case st.phase == pPyChain && cl&cBlank != 0:
			return to(pPyChainBlank, vJoin)
		case cl&cHeadPy != 0:
			return to(pPyHeader, vJoin)
		case cl&cHeadPyGroup != 0:
			return to(pPyGroup, vJoin)
		}
	case pPyGroup:
		switch {
		case cl&cPyGroupLine != 0 && cl&cHeadPyGroup == 0: // a group's header begins the next one
			return st, vJoin
		case cl&cPyChain != 0:
			return to(pPyChain, vJoin)
		case cl&cBlank != 0:
			return to(pPyBlank, vTentative)
		}
	case pGo:
		switch {
		case cl&(cGoroutine|cTab|cGoCreated|cGoFunc|cGoMisc) != 0:
			return st, vJoin
		case cl&cGoExit != 0:
			return to(pDone, vJoin)
		case cl&cBlank != 0:
			return st, vTentative
		}
	case pNode:
		switch {
		case cl&(cAt|cMore) != 0 && cl&cNodeOpen != 0:
			return to(pNodeProps, vJoin)
		case cl&(cAt|cMore) != 0:
			return st, vJoin
		case cl&cNodeTrailer != 0: // without the blank line before it, which Docker's GELF driver does not send
			return to(pDone, vJoin)
		case cl&cBlank != 0:
			return to(pNodeBlank, vTentative)
		}
	case pNodeProps:
		switch {
		case cl&cNodeClose != 0:
			return to(pNodeAfter, vJoin)
		case cl&cIndent2 != 0:
			return st, vJoin
		}
	case pNodeAfter, pNodeBlank:
		switch {
		case cl&cNodeTrailer != 0: // with or without the blank line before it
			return to(pDone, vJoin)
		case st.phase == pNodeAfter && cl&cBlank != 0:
			return to(pNodeBlank, vTentative)
		}
	case pDotnet:
		if cl&(cAt|cDotnetInner|cDotnetEnd) != 0 {
			return st, vJoin
		}
	case pRuby:
		switch {
		case cl&cRubyFrom != 0:
			return st, vJoin
		case cl&cHeadRuby != 0:
			return st, vTentative // the cause's first line; its frames confirm it
		}
	case pPHP:
		switch {
		case cl&(cPHPFrame|cPHPStack|cPHPNext) != 0:
			return st, vJoin
		case cl&cPHPThrown != 0:
			return to(pDone, vJoin)
		case cl&cBlank != 0:
			return st, vTentative
		}
	}
	return st, vBreak
}

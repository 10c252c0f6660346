package summarize

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Builtin is the offline extractive summarizer: a line per thread or event
// (subject, people, count, times) and, for threads with texts, the
// thread's key sentences, picked by word frequency (Luhn's method: a
// sentence scores by how often the thread uses its words; words of the
// subject count double). The same request always gives the same digest,
// and nothing leaves the process.
//
// It is hand-written rather than taken from a library: the Go
// summarization packages found are unmaintained TextRank ports whose
// graph build costs more than this whole digest, and a digest line needs
// one or two sentences per thread, not a ranking of a document.
type Builtin struct {
	// KeySentences is how many sentences each thread contributes; 0
	// means 2.
	KeySentences int
}

// Summarize implements Summarizer.
func (b Builtin) Summarize(_ context.Context, req Request) (string, error) {
	var out strings.Builder
	out.WriteString(req.heading())
	out.WriteString("\n")
	if len(req.Threads) == 0 && len(req.Events) == 0 {
		out.WriteString("\nNothing to report.")
		return out.String(), nil
	}
	keep := b.KeySentences
	if keep <= 0 {
		keep = 2
	}
	for _, t := range req.Threads {
		out.WriteString("\n- " + t.describe(req.Location))
		if key := KeySentences(t.Subject, t.Texts, keep); len(key) > 0 {
			out.WriteString("\n  " + strings.Join(key, " "))
		}
	}
	for _, e := range req.Events {
		out.WriteString("\n- " + e.describe(req.Location))
	}
	return out.String(), nil
}

// maxSentence bounds a key sentence in a digest, in runes.
const maxSentence = 240

// sentenceRE finds sentences within a line: text up to a terminal
// punctuation run (with closing quotes or brackets), or the line's rest.
var sentenceRE = regexp.MustCompile(`[^.!?]+(?:[.!?]+["'”’)\]]*|$)`)

// boilerplate are sentences mail is full of that say nothing.
var boilerplate = regexp.MustCompile(`(?i)^(hi|hello|dear|hey|thanks|thank you|regards|best|cheers|kind regards|best regards|sent from my)\b`)

// KeySentences returns up to n sentences of texts that best carry what
// the thread is about, in the order they were written.
func KeySentences(subject string, texts []string, n int) []string {
	type sentence struct {
		text  string
		words []string
		pos   int
		score float64
	}
	var sentences []sentence
	freq := map[string]int{}
	for _, text := range texts {
		for _, line := range strings.Split(text, "\n") {
			for _, s := range sentenceRE.FindAllString(line, -1) {
				s = strings.TrimSpace(s)
				words := contentWords(s)
				if len(strings.Fields(s)) < 4 || len(words) == 0 || boilerplate.MatchString(s) {
					continue
				}
				for _, w := range words {
					freq[w]++
				}
				sentences = append(sentences, sentence{text: s, words: words, pos: len(sentences)})
			}
		}
	}
	if len(sentences) == 0 || n <= 0 {
		return nil
	}
	topic := map[string]bool{}
	for _, w := range contentWords(subject) {
		topic[w] = true
	}
	for i := range sentences {
		s := &sentences[i]
		seen := map[string]bool{}
		total := 0.0
		for _, w := range s.words {
			if seen[w] {
				continue
			}
			seen[w] = true
			weight := float64(freq[w])
			if topic[w] {
				weight *= 2
			}
			total += weight
		}
		// Dividing by the square root of the length keeps long sentences
		// from winning by length alone without favouring fragments.
		s.score = total / math.Sqrt(float64(len(s.words)))
	}
	ranked := append([]sentence(nil), sentences...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].score > ranked[j].score })
	if len(ranked) > n {
		ranked = ranked[:n]
	}
	sort.Slice(ranked, func(i, j int) bool { return ranked[i].pos < ranked[j].pos })
	out := make([]string, 0, len(ranked))
	for _, s := range ranked {
		out = append(out, truncate(s.text, maxSentence))
	}
	return out
}

// contentWords are a text's lower-cased words, stop words left out.
func contentWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) > 1 && !stopWords[w] {
			out = append(out, w)
		}
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// stopWords are English function words: frequent in every text, they say
// nothing about a thread.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all am an and any are as at be because been
		before being below between both but by can could did do does doing down during each few for from further had
		has have having he her here hers herself him himself his how i if in into is it its itself just me more most
		my myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
		such than that the their theirs them themselves then there these they this those through to too under until up
		very was we were what when where which while who whom why will with would you your yours yourself yourselves
		re fw fwd let us also get got please thanks hi hello dear regards`) {
		m[w] = true
	}
	return m
}()

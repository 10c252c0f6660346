package summarize

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// MessageText is a message body as a digest reads it: plain text (HTML
// reduced to its text, scripts and styles dropped), without the quoted
// history a reply carries below its own words, whitespace collapsed per
// line and blank lines squeezed.
func MessageText(contentType, content string) string {
	text := content
	if strings.EqualFold(contentType, "html") {
		text = htmlText(content)
	}
	return squeeze(stripQuoted(text))
}

// blockTags end a line where they open or close.
var blockTags = map[string]bool{"p": true, "div": true, "br": true, "li": true, "tr": true, "table": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "hr": true, "ul": true, "ol": true}

// htmlText extracts the text of an HTML body with x/net/html's tokenizer
// (the HTML5 tokenizing rules, entities decoded).
func htmlText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // inside <script>, <style>, <head>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "script" || tag == "style" || tag == "head":
				skip++
			case blockTags[tag]:
				b.WriteByte('\n')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "script" || tag == "style" || tag == "head":
				if skip > 0 {
					skip--
				}
			case blockTags[tag]:
				b.WriteByte('\n')
			}
		}
	}
}

// quoteStart matches the line that begins a reply's quoted history, as the
// common mail clients write it: Outlook's "-----Original Message-----" or
// a rule of underscores, Gmail's and Apple Mail's "On … wrote:" (and its
// French and German forms).
var quoteStart = regexp.MustCompile(`(?i)^(-{2,}\s*original message\s*-{2,}|_{5,}|on .{4,200} wrote:|le .{4,200} a écrit\s?:|am .{4,200} schrieb .{1,100}:)$`)

// headerBlock matches the first two lines of Outlook's quoted header block
// ("From: …" then "Sent: …", "Date: …" or "To: …").
var (
	headerFrom = regexp.MustCompile(`(?i)^(from|de|von):\s`)
	headerNext = regexp.MustCompile(`(?i)^(sent|date|to|envoyé|gesendet):\s`)
)

// stripQuoted drops a reply's quoted history: the lines from the first
// quote header on, and lines starting with ">".
func stripQuoted(text string) string {
	lines := strings.Split(text, "\n")
	var kept []string
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if quoteStart.MatchString(trimmed) {
			break
		}
		if headerFrom.MatchString(trimmed) && headerNext.MatchString(nextNonBlank(lines[i+1:])) {
			break
		}
		if strings.HasPrefix(trimmed, ">") {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n")
}

// nextNonBlank is the first line of lines with text, trimmed ("" if none).
func nextNonBlank(lines []string) string {
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			return t
		}
	}
	return ""
}

// squeeze collapses runs of spaces within lines and of blank lines.
func squeeze(text string) string {
	var out []string
	blank := true // drop leading blank lines
	for _, line := range strings.Split(text, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		out = append(out, line)
		blank = false
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

package graphclient

import (
	"context"
	"encoding/json"

	"fmt"
	gojson "github.com/goccy/go-json"
	"testing"
)

// BenchmarkDecodeMessagesBatch decodes a $batch answer the way a first
// sync of a mailbox gets it: three folders of 667 messages each, metadata
// only. CPU per 1,000 messages is what the sync's decode costs.
func BenchmarkDecodeMessagesBatch(b *testing.B) {
	body := batchOfMessagePages(3, 667)
	c := &Client{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var resp batchResponse
		if err := gojson.Unmarshal(body, &resp); err != nil {
			b.Fatal(err)
		}
		for _, r := range resp.Responses {
			p, err := c.decodeMessages(context.Background(), nil, r.Body, "mailbox", "folder")
			if err != nil || len(p.Items) != 667 {
				b.Fatalf("%d items, %v", len(p.Items), err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N)/(3*667)*1000, "ms/1k-msgs")
}

func batchOfMessagePages(folders, perFolder int) []byte {
	type item = map[string]any
	var responses []item
	for f := 0; f < folders; f++ {
		var value []item
		for i := 0; i < perFolder; i++ {
			addr := func(n string) item { return item{"emailAddress": item{"name": n, "address": n + "@contoso.example"}} }
			value = append(value, item{
				"@odata.type": "#microsoft.graph.message", "@odata.etag": "W/\"CQAAABYAAAD\"",
				"id":                fmt.Sprintf("AAMkAGI2TG93AAA%06d%06d=", f, i),
				"parentFolderId":    fmt.Sprintf("AAMkAGI2TG93AAAfolder%02d=", f),
				"conversationId":    fmt.Sprintf("AAQkAGI2TG93conv%06d=", i/3),
				"internetMessageId": fmt.Sprintf("<msg%06d.%02d@contoso.example>", i, f),
				"from":              addr("megan.bowen"), "sender": addr("megan.bowen"),
				"toRecipients": []item{addr("adele.vance"), addr("alex.wilber")},
				"ccRecipients": []item{addr("diego.siciliani")}, "bccRecipients": []item{},
				"subject":          fmt.Sprintf("Quarterly planning, part %d: figures and next steps", i),
				"receivedDateTime": "2026-11-20T09:15:00Z", "sentDateTime": "2026-11-20T09:14:58Z",
				"importance": "normal", "isRead": i%2 == 0, "isDraft": false,
				"flag": item{"flagStatus": "notFlagged"}, "categories": []string{"Blue category"}, "hasAttachments": i%7 == 0,
			})
		}
		page := item{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)", "value": value,
			"@odata.deltaLink": "https://graph.microsoft.com/v1.0/users/x/mailFolders/y/messages/delta?$deltatoken=abc"}
		responses = append(responses, item{"id": fmt.Sprint(f), "status": 200, "headers": item{"Content-Type": "application/json"}, "body": page})
	}
	out, err := json.Marshal(item{"responses": responses})
	if err != nil {
		panic(err)
	}
	return out
}

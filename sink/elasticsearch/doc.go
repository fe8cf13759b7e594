// Package elasticsearch is a qwatch sink that indexes messages into Elasticsearch (7.x and
// 8.x, or any server of its _bulk protocol) with the bulk API of github.com/olivere/elastic/v7,
// neither losing nor duplicating a document.
//
// Every document is sent with op type create and _id set to the message's ID, so a retry after
// an ambiguous failure cannot index it twice. Per item of a bulk response:
//   - 200 or 201: indexed;
//   - 409 (version conflict on create): an earlier attempt landed; counted as already present;
//   - 429, 5xx, and errors of the whole request or the transport: retried, only those items,
//     with exponential backoff and jitter, until the retry budget or the context runs out;
//   - any other 4xx (a mapping conflict, say): dead-lettered, never retried: the original
//     document goes as a string, with the reason, to the dead-letter index.
//
// [Sink.Write] returns nil only when every document of the batch is indexed, already present
// or dead-lettered; otherwise it returns an error and the Hub counts the batch as failed.
//
// Documents use the JSON form of package message (Elastic Common Schema names). The optional
// index template maps fields, container.labels and docker.event.actor.attributes as
// flattened, so arbitrary names sent by containers cannot explode or conflict in the mapping.
package elasticsearch

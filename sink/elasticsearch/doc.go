// Package elasticsearch is a qwatch sink that indexes messages into Elasticsearch (7.x and
// 8.x), OpenSearch, or any server of their _bulk protocol, with the bulk API of
// github.com/olivere/elastic/v7, neither losing nor duplicating a document.
//
// Every document is sent with op type create and _id set to the message's ID, so a retry after
// an ambiguous failure cannot index it twice. Per item of a bulk response:
//   - 200 or 201: indexed;
//   - 409 (version conflict on create): an earlier attempt landed; counted as already present;
//   - 429, 5xx, and errors of the whole request or the transport: retried, only those items,
//     with exponential backoff and jitter, until the retry budget or the context runs out;
//   - any other 4xx (a mapping conflict, say): dead-lettered, never retried: the original
//     document goes as a string, with the reason, to the dead-letter index;
//   - 413 for a whole request: the request is halved; a single document too large for the
//     server is dead-lettered.
//
// A whole request refused with 401 or 403 (rotated credentials), 408 or 429 is an outage, not
// a verdict on the documents: they are retried with backoff like a transport error, never
// dead-lettered or burnt, and Stats reports the sink unhealthy until a request succeeds.
// Other 4xx answers to a whole request fail its documents at once.
//
// Each request is bounded by RequestTimeout (30 s), so a node that accepts and never answers
// cannot hold a Write; RetryBudget (5 min) bounds the whole Write, the request in flight
// included. Requests hold at most MaxBulkBytes of documents (a larger document goes alone).
//
// [Sink.Write] returns nil only when every document of the batch is indexed, already present
// or dead-lettered. Otherwise it returns a [*BulkError] whose Unwritten method lists the
// documents not written by their index in the batch: the Hub counts exactly those as failed,
// and behind a spool only those are retried.
//
// Documents use the JSON form of package message (Elastic Common Schema names). The optional
// index template (see [Sink.Install]) is made for the engine the node runs, as its answer to
// GET / names it: it maps fields, container.labels and docker.event.actor.attributes as
// flattened on Elasticsearch and flat_object on OpenSearch 2.7 and later, so arbitrary names
// sent by containers cannot explode or conflict in the mapping. A template the engine
// refuses is an error of Install, with the engine's reason, and stays in Stats.TemplateError.
package elasticsearch

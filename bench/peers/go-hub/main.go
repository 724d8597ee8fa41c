// go-hub: a gorilla/websocket peer server for bench/compare.sh.
//
// Endpoints:
//
//	/echo                  WebSocket: every text or binary message is sent back as it came.
//	/ws/NAME               WebSocket: a subscriber of channel NAME; receives every message
//	                       published to it. The channel is created with its first subscriber
//	                       and forgotten with its last.
//	/ws                    the same for the channel "news" (the one-channel fan-out).
//	POST /publish/NAME     the request body is broadcast as one text frame to every
//	                       subscriber of channel NAME (none: nothing is sent, still 200).
//	POST /publish          the same for the channel "news".
//
// The design is the classic gorilla chat hub: one hub goroutine owns the map from channel
// to its set of subscribers, each subscriber has a reader goroutine and a writer goroutine
// with a buffered send channel. Two deliberate choices: a broadcast is framed once
// (websocket.PreparedMessage) and written to every subscriber of its channel; and a full
// send channel makes the hub wait for that subscriber (up to -slow-timeout, then it is
// dropped) instead of dropping it at once, so a fast publisher is slowed down rather than
// subscribers losing messages. While the hub waits, no channel's broadcast moves. The
// publish handler answers 200 as soon as the hub's queue has taken the message.
//
// Prints "listen ADDR:PORT" on stdout once listening (-listen with port 0 picks one).
// Run it with GOMAXPROCS=1 for a single-core comparison.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var (
	listenAddr  = flag.String("listen", "127.0.0.1:0", "ADDR:PORT to listen on (port 0: any free port)")
	sendBuffer  = flag.Int("send-buffer", 256, "messages queued per subscriber")
	hubBuffer   = flag.Int("hub-buffer", 64, "published messages queued before POST /publish waits")
	slowTimeout = flag.Duration("slow-timeout", 10*time.Second, "drop a subscriber whose send queue stays full this long")
	maxMessage  = flag.Int64("max-message", 1<<20, "largest message or publish body accepted")
)

// defaultChannel is the channel of /ws and /publish.
const defaultChannel = "news"

var upgrader = websocket.Upgrader{
	// Benchmark peer: accept any Origin.
	CheckOrigin: func(*http.Request) bool { return true },
	// Write buffers are taken from a pool while a message is written and returned
	// afterwards, so idle connections hold none (gorilla's advice for many connections).
	WriteBufferPool: &sync.Pool{},
}

type subscriber struct {
	channel string
	conn    *websocket.Conn
	send    chan *websocket.PreparedMessage
	done    chan struct{} // closed when the writer goroutine has exited
}

type publication struct {
	channel string
	msg     *websocket.PreparedMessage
}

type hub struct {
	register   chan *subscriber
	unregister chan *subscriber
	broadcast  chan publication
	channels   map[string]map[*subscriber]struct{}
}

func newHub() *hub {
	return &hub{
		register:   make(chan *subscriber),
		unregister: make(chan *subscriber, 1024),
		broadcast:  make(chan publication, *hubBuffer),
		channels:   make(map[string]map[*subscriber]struct{}),
	}
}

func (h *hub) add(s *subscriber) {
	subs := h.channels[s.channel]
	if subs == nil {
		subs = make(map[*subscriber]struct{})
		h.channels[s.channel] = subs
	}
	subs[s] = struct{}{}
}

func (h *hub) remove(s *subscriber) {
	subs := h.channels[s.channel]
	if _, ok := subs[s]; ok {
		delete(subs, s)
		close(s.send)
		if len(subs) == 0 {
			delete(h.channels, s.channel)
		}
	}
}

func (h *hub) run() {
	for {
		select {
		case s := <-h.register:
			h.add(s)
		case s := <-h.unregister:
			h.remove(s)
		case p := <-h.broadcast:
			for s := range h.channels[p.channel] {
				select {
				case s.send <- p.msg:
					continue
				default:
				}
				// Queue full: wait for this subscriber's writer rather than drop it.
				t := time.NewTimer(*slowTimeout)
				select {
				case s.send <- p.msg:
				case <-s.done:
					h.remove(s)
				case <-t.C:
					log.Printf("dropping a subscriber of %q: send queue full for %v", s.channel, *slowTimeout)
					h.remove(s)
					s.conn.Close()
				}
				t.Stop()
			}
		}
	}
}

func (s *subscriber) writer() {
	defer close(s.done)
	defer s.conn.Close()
	for m := range s.send {
		if err := s.conn.WritePreparedMessage(m); err != nil {
			return
		}
	}
	s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
}

// channelOf: the channel NAME of PREFIX/NAME, the default channel for PREFIX itself;
// false for anything else (an empty name, or one with a slash).
func channelOf(path, prefix string) (string, bool) {
	if path == prefix {
		return defaultChannel, true
	}
	name := strings.TrimPrefix(path, prefix+"/")
	if name == path || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

func serveSubscriber(h *hub, w http.ResponseWriter, r *http.Request) {
	channel, ok := channelOf(r.URL.Path, "/ws")
	if !ok {
		http.NotFound(w, r)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(*maxMessage)
	s := &subscriber{
		channel: channel,
		conn:    conn,
		send:    make(chan *websocket.PreparedMessage, *sendBuffer),
		done:    make(chan struct{}),
	}
	h.register <- s
	go s.writer()
	// Reader: discard what the subscriber sends; control frames are handled inside.
	for {
		if _, _, err := conn.NextReader(); err != nil {
			break
		}
	}
	h.unregister <- s
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(*maxMessage)
	for {
		mt, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

func servePublish(h *hub, w http.ResponseWriter, r *http.Request) {
	channel, ok := channelOf(r.URL.Path, "/publish")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, *maxMessage+1))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if int64(len(body)) > *maxMessage {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.broadcast <- publication{channel: channel, msg: pm}
	w.WriteHeader(http.StatusOK)
}

func main() {
	flag.Parse()
	h := newHub()
	go h.run()

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", serveEcho)
	subscribe := func(w http.ResponseWriter, r *http.Request) { serveSubscriber(h, w, r) }
	publish := func(w http.ResponseWriter, r *http.Request) { servePublish(h, w, r) }
	mux.HandleFunc("/ws", subscribe)
	mux.HandleFunc("/ws/", subscribe)
	mux.HandleFunc("/publish", publish)
	mux.HandleFunc("/publish/", publish)

	ln, err := net.Listen("tcp", *listenAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-hub:", err)
		os.Exit(1)
	}
	fmt.Printf("listen %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// go-hub: a gorilla/websocket peer server for bench/compare.sh.
//
// Endpoints:
//
//	/echo          WebSocket: every text or binary message is sent back as it came.
//	/ws            WebSocket: a subscriber of the one hub; receives every published message.
//	POST /publish  the request body is broadcast as one text frame to every /ws subscriber.
//
// The design is the classic gorilla chat hub: one hub goroutine owns the set of
// subscribers, each subscriber has a reader goroutine and a writer goroutine with a
// buffered send channel. Two deliberate choices: a broadcast is framed once
// (websocket.PreparedMessage) and written to every subscriber; and a full send channel
// makes the hub wait for that subscriber (up to -slow-timeout, then it is dropped)
// instead of dropping it at once, so a fast publisher is slowed down rather than
// subscribers losing messages. The publish handler answers 200 as soon as the hub's
// queue has taken the message.
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

var upgrader = websocket.Upgrader{
	// Benchmark peer: accept any Origin.
	CheckOrigin: func(*http.Request) bool { return true },
	// Write buffers are taken from a pool while a message is written and returned
	// afterwards, so idle connections hold none (gorilla's advice for many connections).
	WriteBufferPool: &sync.Pool{},
}

type subscriber struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
	done chan struct{} // closed when the writer goroutine has exited
}

type hub struct {
	register   chan *subscriber
	unregister chan *subscriber
	broadcast  chan *websocket.PreparedMessage
	subs       map[*subscriber]struct{}
}

func newHub() *hub {
	return &hub{
		register:   make(chan *subscriber),
		unregister: make(chan *subscriber, 1024),
		broadcast:  make(chan *websocket.PreparedMessage, *hubBuffer),
		subs:       make(map[*subscriber]struct{}),
	}
}

func (h *hub) remove(s *subscriber) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.send)
	}
}

func (h *hub) run() {
	for {
		select {
		case s := <-h.register:
			h.subs[s] = struct{}{}
		case s := <-h.unregister:
			h.remove(s)
		case m := <-h.broadcast:
			for s := range h.subs {
				select {
				case s.send <- m:
					continue
				default:
				}
				// Queue full: wait for this subscriber's writer rather than drop it.
				t := time.NewTimer(*slowTimeout)
				select {
				case s.send <- m:
				case <-s.done:
					h.remove(s)
				case <-t.C:
					log.Printf("dropping a subscriber: send queue full for %v", *slowTimeout)
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

func serveSubscriber(h *hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(*maxMessage)
	s := &subscriber{
		conn: conn,
		send: make(chan *websocket.PreparedMessage, *sendBuffer),
		done: make(chan struct{}),
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
	h.broadcast <- pm
	w.WriteHeader(http.StatusOK)
}

func main() {
	flag.Parse()
	h := newHub()
	go h.run()

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", serveEcho)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { serveSubscriber(h, w, r) })
	mux.HandleFunc("/publish", func(w http.ResponseWriter, r *http.Request) { servePublish(h, w, r) })

	ln, err := net.Listen("tcp", *listenAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-hub:", err)
		os.Exit(1)
	}
	fmt.Printf("listen %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

package twin

// Hub streams the live line state to WebSocket viewers.
type Hub struct{}

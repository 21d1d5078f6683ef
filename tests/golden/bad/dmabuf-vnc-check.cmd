check
dmabuf-vnc.json

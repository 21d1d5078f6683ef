argv
adopt-by-uuid-option.json
--uuid
3B0B8C4E-7D2F-4E61-9A5C-0F1E2D3C4B5A

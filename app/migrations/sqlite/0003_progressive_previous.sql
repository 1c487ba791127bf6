-- A progressive release reaches only part of the devices; the others keep the revision it
-- replaced, remembered here (NULL: the others fall back as if the channel were empty).
ALTER TABLE releases ADD COLUMN previous_revision INTEGER;

<?php
// Throws one PHP exception, as the first argument says, the way PHP prints it.

function parse(string $text): int {
    if (!is_numeric($text)) {
        throw new InvalidArgumentException("not a number: $text");
    }
    return (int)$text;
}

function load(string $text): int {
    try {
        return parse($text);
    } catch (InvalidArgumentException $e) {
        throw new RuntimeException("cannot load config", 0, $e);
    }
}

if ($argv[1] === "uncaught") {
    load("x42");
}

# Raises one Ruby exception, as the first argument says, the way Ruby prints it.

def parse(text)
  Integer(text)
end

def load(text)
  parse(text)
rescue ArgumentError
  raise "cannot load config"
end

case ARGV[0]
when "uncaught"
  load("x42")
end

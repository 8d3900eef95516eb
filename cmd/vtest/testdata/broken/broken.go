package broken

func init() { this is not go }

package domain

// Contact is a personal contact in a mailbox's contacts.
type Contact struct {
	ID             string
	Mailbox        string
	DisplayName    string
	EmailAddresses []EmailAddress
	CompanyName    string
	JobTitle       string
	Phones         []Phone
}

// PhoneType names where a number rings, after Graph's contact properties.
type PhoneType string

const (
	PhoneBusiness PhoneType = "business"
	PhoneHome     PhoneType = "home"
	PhoneMobile   PhoneType = "mobile"
)

// Phone is one of a contact's numbers.
type Phone struct {
	Type   PhoneType `json:"type"`
	Number string    `json:"number"`
}
